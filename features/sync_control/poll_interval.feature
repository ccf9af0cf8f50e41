@sync_control
Feature: Syncing on a timer
  The engine syncs by itself every poll interval; 0 turns polling off.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_set_pollinterval @must @arg_interval
  Scenario: Setting the interval returns the previous one
    When the app sets the poll interval to 7 seconds
    And the app sets the poll interval to 0 seconds
    Then the previous poll interval was 7 seconds

  @api_set_pollinterval @must @arg_interval @status_complete
  Scenario: A short interval makes the engine sync without being asked
    Given a callback "everything" is set for all sources
    When the app sets the poll interval to 1 second
    Then callback "everything" gets a "complete" notification within 15 seconds
    And the local "Product" records are exactly the server's
