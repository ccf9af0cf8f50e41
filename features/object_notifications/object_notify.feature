@object_notifications
Feature: Object notifications
  An app showing records asks to hear when the next sync creates, changes or deletes any of them.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_set_objectnotify_url @must @mock_control @arg_callback_url
  Scenario: The app hears which watched records changed on the server
    Given the server has 5 "Product" records for the user
    And the app has synced everything
    And an object callback "watch" is set
    And the app watches "Product" "2" and "Product" "3"
    When the server's backend changes "Product" "2" to name "Changed"
    And the server's backend deletes "Product" "3"
    And the app syncs everything
    Then object callback "watch" heard that "Product" "2" was updated
    And object callback "watch" heard that "Product" "3" was deleted

  @api_set_objectnotify_url @must @arg_callback_url
  Scenario: The app hears that a record it created got its server id
    Given the app has synced everything
    And an object callback "watch" is set
    And the app creates a "Product" with name "Notebook" and brand "Acme"
    And the app watches the new "Product"
    When the app syncs everything
    And the app syncs everything
    Then object callback "watch" heard that the new "Product" was created
