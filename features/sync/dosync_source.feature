@sync
Feature: Synchronising one model
  dosync_source syncs a single model, named or given by its source id.

  @api_dosync_source @must @mock_control @arg_source_id_or_name @status_ok
  Scenario Outline: Only the chosen model is synchronised
    Given a client app with the models "Product, Customer"
    And the server has 12 "Product" records for the user
    And the server has 4 "Customer" records for the user
    And the user is logged in
    And a callback "customers" is set for the "Customer" notifications
    When the app syncs the "Customer" model by its <reference>
    Then the local "Customer" records are exactly the server's
    And the local "Product" store is empty
    And callback "customers" got an "ok" notification with:
      | source_name | Customer         |
      | source_id   | <id of Customer> |
      | status      | ok               |

    Examples:
      | reference |
      | name      |
      | source id |

  @api_dosync_source @must
  Scenario: Syncing one model against any server
    Given a client app with the model "Product"
    And the user is logged in
    When the app syncs the "Product" model by its name
    Then the local "Product" records are exactly the server's

  @api_dosync_source @must @mock_control @arg_query_params @arg_show_sync_status
  Scenario: One model with query parameters and without a popup
    Given a client app with the model "Product"
    And the user is logged in
    When the app syncs the "Product" model with query parameters "query[sku]=42" without the status popup
    Then every "Product" query the server received carried "query[sku]=42"
    And the status popup was not shown

  @api_dosync_source @should @status_error @param_error_code
  Scenario: Syncing a model the app does not know is an error
    Given a client app with the model "Product"
    And the user is logged in
    And a callback "everything" is set for all sources
    When the app syncs the "Unknown" model by its name
    Then callback "everything" got an "error" notification with:
      | error_code     | 3 |
      | rho_error_code | 3 |
