@sync_control
Feature: The sync status popup
  The app can switch the status popup on or off for every sync; each sync call can still ask
  for it or not.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_enable_status_popup @must @arg_true_or_false
  Scenario Outline: The global switch decides whether a requested popup appears
    Given the status popup is <state>
    When the app syncs everything with the status popup
    Then the status popup was <shown>

    Examples:
      | state    | shown     |
      | enabled  | shown     |
      | disabled | not shown |

  @api_enable_status_popup @should
  Scenario: The popup is off unless the app turns it on
    When the app syncs everything with the status popup
    Then the status popup was not shown
