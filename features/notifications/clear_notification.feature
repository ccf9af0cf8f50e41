@notifications
Feature: Clearing notifications
  clear_notification removes the callback of one model, or the callback for all models with -1.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_clear_notification @must @arg_source_id
  Scenario: A cleared model callback hears nothing
    Given a callback "products" is set for the "Product" notifications
    When the app clears the notification for "Product"
    And the app syncs everything
    Then callback "products" received no notification

  @api_clear_notification @must @arg_source_id @notify_global_routing
  Scenario: Clearing the callback for all models with -1
    Given a callback "everything" is set for all sources
    And the app has synced everything
    When the app clears the notification for all sources
    And the app syncs everything
    Then callback "everything" got exactly 1 "complete" notification
