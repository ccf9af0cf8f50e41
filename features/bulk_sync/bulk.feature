@bulk_sync
Feature: Bulk sync
  A model marked for bulk sync gets its records as one database file prepared by the server,
  instead of page by page. The callback for all models follows the steps of the download.

  @api_dosync @must @mock_control @param_bulk_status @bulk_status_start @bulk_status_download
  @bulk_status_change_db @status_in_progress @param_sync_type
  Scenario: A bulk sync reports each step and installs the server's records
    Given a client app with the bulk model "Product"
    And the server has 30 "Product" records for the user
    And the user is logged in
    And a callback "everything" is set for all sources
    When the app syncs everything
    Then callback "everything" got these "in_progress" notifications in order:
      | sync_type | bulk_status |
      | bulk      | start       |
      | bulk      | download    |
      | bulk      | change_db   |
    And the local "Product" records are exactly the server's

  @api_dosync @must @mock_control
  Scenario: Local changes made before a bulk sync survive it
    Given a client app with the bulk model "Product"
    And the server has 10 "Product" records for the user
    And the user is logged in
    When the app creates a "Product" with name "Kept" and brand "Local"
    And the app syncs everything
    Then the local "Product" records include one named "Kept"
    And the local "Product" store holds 11 records

  @api_dosync @should @mock_control @status_error @param_sync_type
  Scenario: A bulk file the server could not prepare is reported as an error
    Given a client app with the bulk model "Product"
    And the server has 10 "Product" records for the user
    And the user is logged in
    And a callback "everything" is set for all sources
    And the server answers the next bulk data request with an empty file address
    When the app syncs everything
    Then callback "everything" got an "error" notification with:
      | status    | error |
      | sync_type | bulk  |
    And the local "Product" store is empty
