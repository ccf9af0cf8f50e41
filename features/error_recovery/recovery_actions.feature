@error_recovery
Feature: What the app does about refused changes
  After the server refuses a local change, the app decides: drop or re-send a refused record,
  retry or roll back a refused change, retry a refused deletion.

  Background:
    Given a client app with the model "Product"
    And the server has 5 "Product" records for the user
    And the user is logged in
    And the app has synced everything
    And a callback "everything" is set for all sources

  @api_on_sync_create_error @must @mock_control @action_delete @arg_source_name @arg_objects @arg_action
  Scenario: The app drops a record the server could not create
    Given the server's "Product" adapter fails once to create with "duplicate sku"
    And the app creates a "Product" with name "Pen" and brand "Acme"
    And the app has synced everything
    When the app answers the create error of "Product" with "delete"
    Then the local "Product" records include none named "Pen"
    And the app has no pending changes for "Product"

  @api_on_sync_create_error @must @mock_control @action_recreate @arg_action
  Scenario: The app sends a record again after the server could not create it
    Given the server's "Product" adapter fails once to create with "duplicate sku"
    And the app creates a "Product" with name "Pen" and brand "Acme"
    And the app has synced everything
    When the app answers the create error of "Product" with "recreate"
    And the app syncs everything
    Then the server's "Product" records for the user include one named "Pen"
    And the local "Product" records are exactly the server's

  @api_on_sync_update_error @must @mock_control @action_retry @arg_source_name @arg_action @arg_objects
  Scenario: The app retries a change the server refused
    Given the server's "Product" adapter fails once to update with "price locked"
    And the app changes the "price" of "Product" "2" to "7.50"
    And the app has synced everything
    When the app answers the update error of "Product" with "retry"
    And the app syncs everything
    Then the server's "Product" "2" has "price" "7.50"
    And the app has no pending changes for "Product"

  @api_on_sync_update_error @must @mock_control @action_rollback @arg_rollback_objects
  Scenario: The app rolls back a change the server refused
    Given the server's backend sets the "price" of "Product" "2" to "3.00"
    And the app has synced everything
    And the server's "Product" adapter fails once to update with "price locked"
    And the app changes the "price" of "Product" "2" to "7.50"
    And the app has synced everything
    When the app answers the update error of "Product" with "rollback"
    Then the local "Product" "2" has "price" "3.00"
    And the app has no pending changes for "Product"

  @api_on_sync_delete_error @must @mock_control @action_retry @arg_source_name @arg_objects @arg_action
  Scenario: The app retries a deletion the server refused
    Given the server's "Product" adapter fails once to delete with "still referenced"
    And the app deletes "Product" "3"
    And the app has synced everything
    When the app answers the delete error of "Product" with "retry"
    And the app syncs everything
    Then the server has no "Product" "3" for the user
    And the app has no pending changes for "Product"
