@error_recovery
Feature: Refusing an unknown recovery action
  The recovery calls accept only the actions the API names; anything else is refused with an
  error that names the action, and nothing local changes.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_on_sync_create_error @should
  Scenario: An unknown action is refused with a clear error
    When the app answers the create error of "Product" with "explode"
    Then the app is told that "explode" is not a valid action
