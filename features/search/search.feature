@search
Feature: Searching the server
  search asks the server for records matching some values, in one or more models, stores
  what it finds and calls back with the outcome.

  Background:
    Given a client app with the model "Product"
    And the user is logged in

  @api_search @must @arg_source_names @arg_search_params @arg_callback @status_complete
  Scenario: Records matching a brand are fetched and stored
    When the app searches "Product" for records with "brand" equal to the brand of the server's first "Product"
    Then the search callback got a "complete" notification with:
      | status     | complete |
      | error_code | 0        |
    And the local "Product" records are exactly the server's records with that brand

  @api_search @must @mock_control @arg_search_params @arg_offset @arg_max_results @arg_from
  Scenario: Offset, maximum results and path go to the server
    Given the server has 10 "Product" records for the user
    When the app searches "Product" with:
      | argument      | value     |
      | from          | search    |
      | search_params | brand=Acme |
      | offset        | 20        |
      | max_results   | 5         |
    Then the search callback got a "complete" notification with:
      | status | complete |
    And the server received a search on "/search" carrying "offset=20"
    And the server received a search on "/search" carrying "max_results=5"
    And the server received a search on "/search" carrying "search[brand]=Acme"

  @api_search @should @arg_from @status_error @param_error_code
  Scenario: A search path the server does not know is an error
    When the app searches "Product" with:
      | argument      | value        |
      | from          | no_such_path |
      | search_params | brand=Acme   |
    Then the search callback got an "error" notification with:
      | status     | error |
      | error_code | 404   |

  @api_search @must @mock_control @arg_callback_param
  Scenario: The callback parameter comes back with the result
    Given the server has 10 "Product" records for the user
    When the app searches "Product" with:
      | argument       | value          |
      | search_params  | brand=Acme     |
      | callback_param | screen=results |
    Then the search callback got a "complete" notification with:
      | screen | results |
      | status | complete |

  @api_search @must @mock_control @arg_progress_step @status_in_progress
  Scenario: Progress is reported every few records
    Given the server has 12 "Product" records with brand "Acme" for the user
    And the app sets the page size to 6
    When the app searches "Product" with:
      | argument      | value      |
      | search_params | brand=Acme |
      | progress_step | 3          |
    Then the search callback got at least 2 "in_progress" notifications
    And the search callback got a "complete" notification with:
      | status | complete |
    And the local "Product" store holds 12 records

  @api_search @must @mock_control @arg_sync_changes
  Scenario: Local changes are sent before searching when asked
    Given the server has 3 "Product" records for the user
    And the app creates a "Product" with name "Searchable" and brand "Acme"
    When the app searches "Product" with:
      | argument      | value      |
      | search_params | brand=Acme |
      | sync_changes  | true       |
    Then the server's "Product" records for the user include one named "Searchable"

  @api_search @should @mock_control @arg_sync_changes
  Scenario: Local changes stay local when the search does not send them
    Given the server has 3 "Product" records for the user
    And the app creates a "Product" with name "Searchable" and brand "Acme"
    When the app searches "Product" with:
      | argument      | value      |
      | search_params | brand=Acme |
      | sync_changes  | false      |
    Then the server's "Product" records for the user include none named "Searchable"
    And the app has pending changes for "Product"

  @api_search @must @mock_control @arg_source_names
  Scenario: One search over two models
    Given a client app with the models "Product, Customer"
    And the server has 4 "Product" records with brand "Acme" for the user
    And the server has 2 "Customer" records with brand "Acme" for the user
    And the user is logged in
    When the app searches "Product, Customer" with:
      | argument      | value      |
      | search_params | brand=Acme |
    Then the search callback got a "complete" notification with:
      | status | complete |
    And the local "Product" store holds 4 records
    And the local "Customer" store holds 2 records

  @api_search @should @mock_control @status_error @param_server_errors
  Scenario: A failing search on the server is reported with its message
    Given the server's "Product" adapter fails to search with "index offline"
    When the app searches "Product" with:
      | argument      | value      |
      | search_params | brand=Acme |
    Then the search callback got an "error" notification with:
      | status                             | error         |
      | error_code                         | 8             |
      | server_errors.search-error.message | index offline |
