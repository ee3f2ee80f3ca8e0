//! Cursor pagination, the same on every list of the admin API: `?limit=` (1 to 1,000; 100
//! by default) and `?after=` (the cursor the previous page named). A page is its items as a
//! JSON array; when more follow, the answer's `Link` header names the next page (`<path?
//! after=…&limit=…>; rel="next"`, the request's own path and other parameters kept), so a
//! client follows links until there is none. Lists the database can hold many of (accounts,
//! audit entries, key-value entries) are paged by the query itself, and their cursor is the
//! sort key of the page's last item (a username, a key, or a time and an id for lists newest
//! first), so pages stay right while items come and go. The others, which a tenant keeps
//! few of (clients, rules, scopes, keys, …), are read whole and paged here, their cursor
//! the id of the page's last item.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::web::{ApiError, Problem};

/// Items per page unless the request says otherwise, and at most.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// `?after=&limit=` of a list without other parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The cursor of the previous page's last item, as its `Link: rel="next"` named it.
    pub after: Option<String>,
    /// Items per page: 1 to 1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The page size asked for, within bounds.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// The cursor of a page's last item, put on the answer for [`link`] to turn into a header.
#[derive(Clone, Debug)]
struct NextPage(String);

/// One page of a list: its items, and the cursor after which the next page starts.
#[derive(Debug)]
pub struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl<T> Page<T> {
    /// A page of a list read whole, in its order; `id` names an item, and the cursor is the
    /// id of the previous page's last item. A cursor whose item has gone since is refused
    /// (400): the client starts again from the first page.
    pub fn of(items: Vec<T>, query: &PageQuery, id: impl Fn(&T) -> String) -> Result<Self, ApiError> {
        let start = match query.after.as_deref() {
            None => 0,
            Some(after) => items.iter().position(|item| id(item) == after).map(|i| i + 1).ok_or_else(|| {
                ApiError::new(Problem::InvalidRequest, "after names no item of this list (it may have been removed)")
            })?,
        };
        Ok(Self::fetched(items.into_iter().skip(start).collect(), query.limit(), id))
    }

    /// A page of items read after the cursor by the database, which was asked for one more
    /// than `limit` to tell whether another page follows.
    pub fn fetched(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = match items.len() > limit {
            true => {
                items.truncate(limit);
                items.last().map(key)
            }
            false => None,
        };
        Page { items, next }
    }
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.items).into_response();
        if let Some(cursor) = self.next {
            response.extensions_mut().insert(NextPage(cursor));
        }
        response
    }
}

/// One more than `limit`, as a database limit: the extra row tells that a page follows.
pub fn fetch_limit(limit: u32) -> u32 {
    limit.saturating_add(1)
}

/// Middleware: a page that has a next one gets `Link: <path?…&after=…>; rel="next"`, the
/// request's path and its other query parameters kept.
pub async fn link(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let mut response = next.run(request).await;
    let Some(NextPage(cursor)) = response.extensions_mut().remove::<NextPage>() else {
        return response;
    };
    let kept = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .filter(|(name, _)| name != "after")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect::<Vec<_>>();
    let mut next_query = url::form_urlencoded::Serializer::new(String::new());
    next_query.extend_pairs(kept).append_pair("after", &cursor);
    let target = format!("<{path}?{}>; rel=\"next\"", next_query.finish());
    if let Ok(value) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn query(after: Option<&str>, limit: u32) -> PageQuery {
        PageQuery { after: after.map(str::to_owned), limit: Some(limit) }
    }

    #[test]
    fn pages_of_a_list_follow_each_other_to_the_end() {
        let items: Vec<String> = ["e", "a", "d", "b", "c"].map(str::to_owned).to_vec();
        let page = |after: Option<&str>| Page::of(items.clone(), &query(after, 2), String::clone).unwrap();
        let first = page(None);
        assert_eq!((first.items, first.next.as_deref()), (vec!["e".to_owned(), "a".to_owned()], Some("a")));
        let second = page(Some("a"));
        assert_eq!((second.items, second.next.as_deref()), (vec!["d".to_owned(), "b".to_owned()], Some("b")));
        let last = page(Some("b"));
        assert_eq!((last.items, last.next), (vec!["c".to_owned()], None));
        // A full last page names no next page.
        assert_eq!(page(Some("d")).next, None);
        // An item that has gone cannot be continued from.
        assert!(Page::of(items.clone(), &query(Some("x"), 2), String::clone).is_err());
    }

    #[test]
    fn the_database_asks_for_one_more_to_know_a_page_follows() {
        let page = Page::fetched(vec![1, 2, 3], 2, i32::to_string);
        assert_eq!((page.items, page.next.as_deref()), (vec![1, 2], Some("2")));
        let page = Page::fetched(vec![1, 2], 2, i32::to_string);
        assert_eq!(page.next, None);
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(query(None, 0).limit(), 1);
        assert_eq!(query(None, 5000).limit(), MAX_LIMIT);
        assert_eq!(PageQuery::default().limit(), DEFAULT_LIMIT);
    }
}
