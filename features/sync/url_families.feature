@sync
Feature: The two generations of server routes
  RhoConnect serves the SyncEngine's classic routes under the application URL and the newer REST
  routes from the server root; an app can speak either and gets the same records.

  @api_dosync @should
  Scenario Outline: Both generations of server routes give the same records
    Given a client app with the model "Product" speaking the <family> routes
    And the user logs in with valid credentials
    When the app syncs everything
    Then the local "Product" records are exactly the server's

    Examples:
      | family  |
      | classic |
      | rest    |
