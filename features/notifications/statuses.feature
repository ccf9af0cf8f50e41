@notifications
Feature: Notification statuses and their parameters
  Every notification carries status, source id, source name and sync type; progress reports
  carry counters; errors carry the error code, the server's message and the adapter's errors.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_set_notification @must @mock_control @status_in_progress @status_ok @param_status
  @param_total_count @param_processed_count @param_cumulative_count @param_source_id @param_source_name
  @param_sync_type
  Scenario: An incremental sync reports progress, then ok
    Given the server has 4 "Product" records for the user
    And a callback "products" is set for the "Product" notifications
    When the app syncs everything
    Then callback "products" received the statuses "in_progress, ok"
    And callback "products" got an "in_progress" notification with:
      | status           | in_progress     |
      | source_id        | <id of Product> |
      | source_name      | Product         |
      | sync_type        | incremental     |
      | total_count      | 4               |
      | processed_count  | 4               |
      | cumulative_count | 4               |

  @api_set_notification @must @mock_control @status_error @param_error_code @param_error_message
  @param_server_errors @server_error_query_error
  Scenario: An adapter failure on the server is reported as an error with the server's message
    Given the server's "Product" adapter fails to query with "backend down"
    And a callback "products" is set for the "Product" notifications
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | status                           | error        |
      | source_name                      | Product      |
      | error_code                       | 8            |
      | server_errors.query-error.message | backend down |

  @api_set_notification @must @mock_control @status_error @param_error_code @param_error_message
  Scenario: An HTTP failure is reported with its status and body
    Given the server answers the next "Product" query with status 500 and body "boom"
    And a callback "products" is set for the "Product" notifications
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | status         | error   |
      | source_name    | Product |
      | error_code     | 500     |
      | rho_error_code | 2       |
      | error_message  | boom    |

  @api_set_notification @must @mock_control @status_schema_changed
  Scenario: A schema change on the server is reported
    Given a client app with the model "Inventory"
    And the user is logged in
    And the app has synced everything
    And a callback "inventory" is set for the "Inventory" notifications
    When the server changes the schema of "Inventory"
    And the app syncs everything
    Then callback "inventory" got a "schema-changed" notification with:
      | status      | schema-changed |
      | source_name | Inventory      |

  @api_set_notification @should @mock_control @notify_one_shot @notify_global_routing @status_ok
  Scenario: After an adapter error the sync goes on and the model's ok goes to the callback for all
    Given the server has 4 "Product" records for the user
    And the server's "Product" adapter fails once to logoff with "logoff timeout"
    And a callback "products" is set for the "Product" notifications
    And a callback "everything" is set for all sources
    When the app syncs everything
    Then callback "products" received the statuses "error"
    And callback "everything" got an "ok" notification with:
      | source_name | Product |
      | status      | ok      |
    And the local "Product" records are exactly the server's
