@authentication
Feature: The name of the signed-in user
  The engine returns the current user's name while logged in, and the last user's name after
  signing out, so an app can prefill its login form.

  Background:
    Given a client app with the model "Product"

  @api_get_user_name @must
  Scenario: The user name is the login of the open session
    When the user logs in as "alice" with password "secret"
    Then the user name is "alice"

  @api_get_user_name @api_logout @must
  Scenario: The last user's name is kept after signing out
    Given the user logs in as "alice" with password "secret"
    When the user logs out
    Then the user name is "alice"
    And the app is not logged in

  @api_get_user_name @should
  Scenario Outline: The most recent successful login wins
    Given the user logs in as "<first>" with password "secret"
    When the user logs in as "<second>" with password "secret"
    Then the user name is "<second>"

    Examples:
      | first | second |
      | alice | bob    |
      | bob   | carol  |
