@authentication
Feature: Signing out
  Signing out closes the session on the device only: no request goes to the server, the client
  id is kept, and a later sync is refused until the user signs in again.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_logout @api_logged_in @must
  Scenario: Signing out closes the session
    When the user logs out
    Then the app is not logged in

  @api_logout @must @mock_control
  Scenario: Signing out does not contact the server
    Given the server's request log is empty
    When the user logs out
    Then the server received no request

  @api_logout @api_dosync @must @status_error @param_error_code
  Scenario: Syncing after signing out is refused with "not logged in"
    Given a callback "everything" is set for all sources
    When the user logs out
    And the app syncs everything
    Then callback "everything" got an "error" notification with:
      | error_code     | 7 |
      | rho_error_code | 7 |
    And the local "Product" store is empty

  @api_logout @api_login @must
  Scenario: Signing in again after signing out lets the app sync
    When the user logs out
    And the user logs in with valid credentials
    And the app syncs everything
    Then the local "Product" records are exactly the server's
