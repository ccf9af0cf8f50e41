@sync
Feature: Page size and paging
  The engine pulls records in pages of a size the app chooses (2000 by default) and reports
  progress after every page: the page's record count, the running count and the server's total.

  Background:
    Given a client app with the model "Product"

  @api_get_pagesize @must
  Scenario: The default page size is 2000
    Then the page size is 2000

  @api_set_pagesize @api_get_pagesize @must @arg_size
  Scenario Outline: The app changes the page size
    When the app sets the page size to <size>
    Then the page size is <size>

    Examples:
      | size |
      | 1    |
      | 10   |
      | 500  |

  @api_set_pagesize @api_dosync_source @must @mock_control @status_in_progress
  @param_total_count @param_processed_count @param_cumulative_count @param_sync_type @param_source_name
  Scenario: 25 records in pages of 10 are reported page by page
    Given the server has 25 "Product" records for the user
    And the user is logged in
    And the app sets the page size to 10
    And a callback "products" is set for the "Product" notifications
    When the app syncs the "Product" model by its name
    Then callback "products" got these "in_progress" notifications:
      | source_name | sync_type   | processed_count | cumulative_count | total_count |
      | Product     | incremental | 10              | 10               | 25          |
      | Product     | incremental | 10              | 20               | 25          |
      | Product     | incremental | 5               | 25               | 25          |
    And every "Product" query the server received asked for pages of 10
    And the local "Product" records are exactly the server's

  @api_set_pagesize @must @mock_control @status_in_progress
  Scenario Outline: The number of progress reports follows the page size
    Given the server has <records> "Product" records for the user
    And the user is logged in
    And the app sets the page size to <size>
    And a callback "products" is set for the "Product" notifications
    When the app syncs the "Product" model by its name
    Then callback "products" got <pages> "in_progress" notifications
    And the local "Product" store holds <records> records

    Examples:
      | records | size | pages |
      | 7       | 3    | 3     |
      | 20      | 20   | 1     |
      | 21      | 20   | 2     |
      | 0       | 10   | 0     |

  @api_set_pagesize @must @status_in_progress
  Scenario: Progress counts follow what the server holds
    Given the user is logged in
    And the app sets the page size to 10
    And a callback "products" is set for the "Product" notifications
    When the app syncs the "Product" model by its name
    Then the "in_progress" notifications of callback "products" count the server's "Product" records in pages of 10
    And the local "Product" records are exactly the server's
