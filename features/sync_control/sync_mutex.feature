@sync_control
Feature: Holding the sync back while the app works on its data
  An app that changes many records at once takes the sync lock first, so a sync cannot
  write between its changes; the sync waits for the lock and then runs normally.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_lock_sync_mutex @api_unlock_sync_mutex @must
  Scenario: A sync waits while the app holds the lock
    When the app takes the sync lock
    And the app starts syncing everything
    Then the sync has not finished while the lock is held
    And the local "Product" store is empty
    When the app releases the sync lock
    Then the sync finishes
    And the local "Product" records are exactly the server's

  @api_lock_sync_mutex @api_unlock_sync_mutex @should
  Scenario: Batch work under the lock is kept whole by the next sync
    Given the app has synced everything
    When the app takes the sync lock
    And the app creates a "Product" with name "Batch A" and brand "Acme"
    And the app creates a "Product" with name "Batch B" and brand "Acme"
    And the app releases the sync lock
    And the app syncs everything
    Then the local "Product" records include a record named "Batch A"
    And the local "Product" records include a record named "Batch B"
    And the app has no pending changes for "Product"
