@sync
Feature: Synchronising every model
  dosync pushes local changes and pulls the server's records for every synced model, in
  sync priority order, then says "complete".

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_dosync @must @status_ok @status_complete @param_status @param_source_name @param_sync_type
  @param_source_id
  Scenario: A full sync brings the server's records to the device
    Given a callback "products" is set for the "Product" notifications
    And a callback "everything" is set for all sources
    When the app syncs everything
    Then the local "Product" records are exactly the server's
    And callback "products" got an "ok" notification with:
      | source_name | Product          |
      | source_id   | <id of Product>  |
      | sync_type   | incremental      |
      | status      | ok               |
    And callback "everything" got a "complete" notification with:
      | status     | complete |
      | error_code | 0        |

  @api_dosync @must @arg_show_sync_status
  Scenario Outline: The status popup is shown only when asked for
    Given the status popup is enabled
    When the app syncs everything <popup> the status popup
    Then the status popup was <shown>
    And the local "Product" records are exactly the server's

    Examples:
      | popup   | shown     |
      | with    | shown     |
      | without | not shown |

  @api_dosync @must @mock_control @arg_query_params
  Scenario: Query parameters are passed to the server
    When the app syncs everything with query parameters "query[brand]=Acme"
    Then every "Product" query the server received carried "query[brand]=Acme"

  @api_dosync @must @mock_control
  Scenario: Local creations, updates and deletions reach the server
    Given the server has 5 "Product" records for the user
    And the app has synced everything
    When the app creates a "Product" with name "Pen" and brand "Acme"
    And the app changes the "price" of "Product" "2" to "9.99"
    And the app deletes "Product" "3"
    And the app syncs everything
    Then the server's "Product" records for the user include one named "Pen"
    And the server's "Product" "2" has "price" "9.99"
    And the server has no "Product" "3" for the user
    And the local "Product" records are exactly the server's
    And the app has no pending changes for "Product"

  @api_dosync @must @mock_control
  Scenario: Changes made on the server arrive with the next sync
    Given the server has 5 "Product" records for the user
    And the app has synced everything
    When the server's backend changes "Product" "1" to name "Renamed"
    And the server's backend deletes "Product" "4"
    And the server's backend adds a "Product" "new-1" named "Fresh"
    And the app syncs everything
    Then the local "Product" records are exactly the server's
    And the local "Product" "1" has "name" "Renamed"

  @api_dosync @should @mock_control
  Scenario: Models are synchronised in sync priority order
    Given a client app with the models "Customer"
    And the server has 3 "Customer" records for the user
    And the server has 3 "Product" records for the user
    And a callback "everything" is set for all sources
    When the app syncs everything
    Then callback "everything" got these "ok" notifications:
      | source_name |
      | Product     |
      | Customer    |
    And the local "Customer" records are exactly the server's

  @api_dosync @should @mock_control @api_set_pagesize
  Scenario: Records changed on the server while the app is paging arrive by the next sync
    Given the server has 12 "Product" records for the user
    And the app sets the page size to 5
    And the server's backend renames "Product" "11" to "Moved" after the first "Product" page
    When the app syncs everything
    And the app syncs everything
    Then the local "Product" records are exactly the server's
    And the local "Product" "11" has "name" "Moved"
