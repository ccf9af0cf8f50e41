@sync_control
Feature: Stopping a sync
  stop_sync ends the running sync: no further notification is delivered, the command's handle
  says it was stopped, and nothing already stored is lost.

  Background:
    Given a client app with the model "Product"
    And the user is logged in
    And the app sets the page size to 10

  @api_stop_sync @must @status_in_progress
  Scenario: The app stops the sync after the first page
    Given a callback "products" is set for the "Product" notifications
    And the app stops syncing as soon as the first "Product" page arrives
    When the app syncs everything
    Then the sync reports that it was stopped
    And callback "products" got 1 "in_progress" notification
    And callback "products" got no "ok" notification
    When the app no longer stops syncing
    And the app syncs everything
    Then the local "Product" records are exactly the server's

  @api_stop_sync @should
  Scenario: Stopping when nothing runs is harmless
    When the app stops syncing
    And the app syncs everything
    Then the local "Product" records are exactly the server's
