@error_recovery
Feature: Errors reported by the server's adapter
  When the server's backend fails, the server says so inside the next page. The engine reports
  each kind in the notification's server_errors and keeps the data it already had.

  Background:
    Given a client app with the model "Product"
    And the server has 5 "Product" records for the user
    And the user is logged in
    And the app has synced everything

  @api_dosync @must @mock_control @status_error @param_server_errors @param_error_code
  @server_error_login_error @server_error_query_error @server_error_logoff_error
  Scenario Outline: Failures of the source as a whole carry the server's message
    Given the server's "Product" adapter fails to <stage> with "<message>"
    And a callback "products" is set for the "Product" notifications
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | error_code                       | 8         |
      | server_errors.<kind>.message     | <message> |
    And the local "Product" store holds 5 records

    Examples:
      | stage   | kind         | message          |
      | login   | login-error  | Error logging in |
      | query   | query-error  | backend down     |
      | logoff  | logoff-error | logoff timeout   |

  @api_dosync @must @mock_control @status_error @param_server_errors @server_error_create_error
  Scenario: A record the server could not create is reported with its attributes
    Given the server's "Product" adapter fails to create with "duplicate sku"
    And a callback "products" is set for the "Product" notifications
    When the app creates a "Product" with name "Pen" and brand "Acme"
    And the app syncs everything
    Then callback "products" got an "error" notification with:
      | error_code                                        | 8             |
      | server_errors.create-error.<new Product>.message         | duplicate sku |
      | server_errors.create-error.<new Product>.attributes.name | Pen           |

  @api_dosync @must @mock_control @status_error @param_server_errors @server_error_update_error
  Scenario: A change the server refused is reported with the attempted values
    Given the server's "Product" adapter fails to update with "price locked"
    And a callback "products" is set for the "Product" notifications
    When the app changes the "price" of "Product" "2" to "0.01"
    And the app syncs everything
    Then callback "products" got an "error" notification with:
      | error_code                                     | 8            |
      | server_errors.update-error.2.message           | price locked |
      | server_errors.update-error.2.attributes.price  | 0.01         |

  @api_dosync @must @mock_control @status_error @param_server_errors @server_error_delete_error
  Scenario: A deletion the server refused is reported
    Given the server's "Product" adapter fails to delete with "still referenced"
    And a callback "products" is set for the "Product" notifications
    When the app deletes "Product" "3"
    And the app syncs everything
    Then callback "products" got an "error" notification with:
      | error_code                            | 8                |
      | server_errors.delete-error.3.message  | still referenced |
