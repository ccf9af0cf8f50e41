@transport
Feature: Checking the server's TLS certificate
  The engine checks the server's certificate unless the app turns checking off, for example
  for a test server with a self-signed certificate.

  Background:
    Given a server reachable over TLS with a self-signed certificate
    And a client app with the model "Product" using that server

  @api_set_ssl_verify_peer @must @mock_control @arg_true_or_false @param_error_code
  Scenario: A self-signed certificate is refused by default
    When the user logs in with valid credentials
    Then the login callback reports:
      | error_code | 1 |
    And the app is not logged in

  @api_set_ssl_verify_peer @must @mock_control @arg_true_or_false
  Scenario: Checking can be turned off and on again
    When the app stops checking TLS certificates
    And the user logs in with valid credentials
    Then the app is logged in
    When the app syncs everything
    Then the local "Product" records are exactly the server's
    When the app checks TLS certificates again
    And the user logs in with valid credentials
    Then the login callback reports:
      | error_code | 1 |
