@authentication
Feature: Signing in to the RhoConnect server
  An app signs its user in before it syncs. The login callback says how it went, the engine
  remembers whether a session is open and who signed in last.

  Background:
    Given a client app with the model "Product"

  @api_login @api_logged_in @must @param_error_code @param_error_message
  @arg_login @arg_password @arg_callback_url
  Scenario: A user signs in with valid credentials
    Given the app is not logged in
    When the user logs in with valid credentials
    Then the login callback reports:
      | error_code     | 0 |
      | error_message  |   |
    And the app is logged in

  @api_login @api_logged_in @must @param_error_code @param_error_message
  Scenario: The server refuses an empty login
    When the user logs in as "" with password "anything"
    Then the login callback reports:
      | error_code     | 401                       |
      | rho_error_code | 9                         |
      | error_message  | Unable to authenticate '' |
    And the app is not logged in

  @api_login @should
  Scenario: Signing in without a callback still opens the session
    When the user logs in with valid credentials and no callback
    Then the app is logged in

  @api_login @api_logged_in @must
  Scenario: Signing in against a server that is down reports a network error
    Given the server is unreachable
    When the user logs in with valid credentials
    Then the login callback reports:
      | error_code     | 1 |
      | rho_error_code | 1 |
    And the app is not logged in
