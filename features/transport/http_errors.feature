@transport
Feature: HTTP failures during a sync
  A failed request is reported with the HTTP status as error_code and the response body as
  error_message. A 401 ends the session; the app must sign in again.

  Background:
    Given a client app with the model "Product"
    And the user is logged in
    And a callback "products" is set for the "Product" notifications

  @api_dosync @must @mock_control @status_error @param_error_code @param_error_message
  Scenario Outline: The HTTP status becomes the error code
    Given the server answers the next "Product" query with status <status> and body "<body>"
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | status         | error      |
      | error_code     | <status>   |
      | rho_error_code | <rho_code> |
      | error_message  | <body>     |

    Examples:
      | status | rho_code | body              |
      | 401    | 9        | Not authenticated |
      | 500    | 2        | Unknown client    |
      | 404    | 2        | Not Found         |
      | 503    | 2        | try later         |

  @api_dosync @api_logged_in @must @mock_control
  Scenario: A 401 ends the session without signing in again
    Given the server answers the next "Product" query with status 401 and body "Not authenticated"
    When the app syncs everything
    Then the app is not logged in
    And the server received no login after the failure

  @api_dosync @must @mock_control
  Scenario: Nothing is lost when the server fails in the middle of a sync
    Given the app has synced everything
    And the app creates a "Product" with name "Precious" and brand "Local"
    And the server answers the next "Product" push with status 500 and body "oops"
    When the app syncs everything
    Then the local "Product" records include one named "Precious"
    And the app has pending changes for "Product"
    When the app syncs everything
    Then the server's "Product" records for the user include one named "Precious"

  @api_dosync @must @mock_control @status_error @param_error_code
  Scenario: A connection broken by the network is reported as a network error and loses nothing
    Given the app has synced everything
    And a callback "everything" is set for all sources
    And the app creates a "Product" with name "Offline" and brand "Local"
    And the network drops the connection of the next "Product" push
    When the app syncs everything
    Then callback "everything" got an "error" notification with:
      | status         | error |
      | error_code     | 1     |
      | rho_error_code | 1     |
    And the local "Product" records include one named "Offline"
    And the app has pending changes for "Product"

  @api_dosync @should @mock_control @status_error @param_error_code
  Scenario: A page in another protocol version is refused
    Given the server answers the next "Product" query in protocol version 2
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | status         | error |
      | error_code     | 11    |
      | rho_error_code | 11    |
    And the local "Product" store is empty

  @api_dosync @must @mock_control @status_error @param_error_code
  Scenario Outline: An answer the engine cannot read is an unexpected server response
    Given the server answers the next "Product" query with <answer>
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | status         | error |
      | error_code     | 4     |
      | rho_error_code | 4     |
    And the local "Product" store is empty

    Examples:
      | answer         |
      | an empty array |
      | broken JSON    |

  @api_dosync @must @mock_control @status_complete
  Scenario: A 401 stops the whole sync: no "complete" follows
    Given a callback "everything" is set for all sources
    And the server answers the next "Product" query with status 401 and body "Not authenticated"
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | error_code | 401 |
    And callback "everything" got no "complete" notification

  @api_dosync @api_logged_in @should @mock_control @status_error @param_error_code
  Scenario: The server forgets the session in the middle of paging
    Given the server has 12 "Product" records for the user
    And the app sets the page size to 5
    And the server forgets the session after the first "Product" page
    When the app syncs everything
    Then callback "products" got an "error" notification with:
      | error_code     | 401               |
      | error_message  | Not authenticated |
    And the app is not logged in
    And the local "Product" store holds 5 records
