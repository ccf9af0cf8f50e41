@sync_control
Feature: Changing the sync server
  set_syncserver points the engine at another server. A different address drops the session
  and the client id; the same address changes nothing.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_set_syncserver @must @arg_server_url
  Scenario: Pointing at another server signs the user out
    When the app points the engine at "http://127.0.0.1:9/application"
    Then the app is not logged in

  @api_set_syncserver @must @arg_server_url
  Scenario: Pointing at the same server keeps the session
    When the app points the engine at the server under test
    Then the app is logged in

  @api_set_syncserver @must @arg_server_url
  Scenario: Coming back to the server needs a new login and then syncs
    When the app points the engine at "http://127.0.0.1:9/application"
    And the app points the engine at the server under test
    And the user logs in with valid credentials
    And the app syncs everything
    Then the local "Product" records are exactly the server's
