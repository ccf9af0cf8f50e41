@notifications
Feature: Sync notifications
  An app hears about a sync through notification callbacks: one per model, used once, or one
  for all models (source id -1) that stays until it is cleared. Extra parameters given when the
  callback is set come back with every notification.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_set_notification @must @notify_one_shot @arg_source_id @arg_callback_url
  Scenario: A per-model callback is used for one sync only
    Given a callback "products" is set for the "Product" notifications
    When the app syncs everything
    And the app syncs everything
    Then callback "products" got exactly 1 "ok" notification

  @api_set_notification @must @notify_global_routing @status_ok @status_complete @param_status
  Scenario: The callback for all models stays and receives every model's events
    Given a callback "everything" is set for all sources
    When the app syncs everything
    And the app syncs everything
    Then callback "everything" got exactly 2 "ok" notifications
    And callback "everything" got exactly 2 "complete" notifications

  @api_set_notification @must @notify_global_routing
  Scenario: A model's own callback takes its events; the end of the sync goes to the callback for all
    Given a callback "products" is set for the "Product" notifications
    And a callback "everything" is set for all sources
    When the app syncs everything
    Then callback "products" got exactly 1 "ok" notification
    And callback "everything" got no "ok" notification
    And callback "everything" got exactly 1 "complete" notification

  @api_set_notification @must @notify_global_routing @notify_one_shot
  Scenario: Once the model's callback is used up, its events go to the callback for all
    Given a callback "products" is set for the "Product" notifications
    And a callback "everything" is set for all sources
    When the app syncs everything
    And the app syncs everything
    Then callback "products" got exactly 1 "ok" notification
    And callback "everything" got exactly 1 "ok" notification

  @api_set_notification @must @arg_params
  Scenario: Parameters given with the callback come back in every notification
    Given a callback "products" is set for the "Product" notifications with parameters "screen=list&tab=2"
    When the app syncs everything
    Then callback "products" got an "ok" notification with:
      | screen      | list    |
      | tab         | 2       |
      | source_name | Product |

  @api_set_notification @should @arg_callback_url
  Scenario: A callback can be a URL that receives the parameters as a form post
    Given a web callback "hook" is set for the "Product" notifications
    When the app syncs everything
    Then web callback "hook" received a form post with:
      | status      | ok          |
      | source_name | Product     |
      | sync_type   | incremental |
