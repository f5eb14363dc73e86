// The customer list's query and its first page, apart from the screen's code: the page
// sends this first page (js/first-query.js) while the screen's modules still load.
export const PAGE = 20;
export const FIRST_ORDER = { field: "CREATED_AT", direction: "ASC" };
export const LIST = `query Customers($filter: CustomerFilter, $orderBy: CustomerOrder,
    $first: Int, $after: String, $last: Int, $before: String) {
  customers(filter: $filter, orderBy: $orderBy, first: $first, after: $after,
            last: $last, before: $before) {
    totalCount
    edges { node { id name email phone company owner tags stage lifecycleStage tier forgotten } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

// The variables of the list as it opens (no filter, first page): what the screen asks.
export function firstPageVariables() {
  return { filter: {}, orderBy: FIRST_ORDER, first: PAGE };
}
