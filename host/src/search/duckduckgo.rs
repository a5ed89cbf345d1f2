//! DuckDuckGo's HTML endpoint (`https://html.duckduckgo.com/html/?q=…`): no key, results
//! as a page of `div.result` blocks. Ads (`result--ad`) are skipped; result links point at
//! DuckDuckGo's redirector (`//duckduckgo.com/l/?uddg=<the real URL>`), whose target is
//! taken out of the query.

use openlegion_protocol::SearchResult;
use reqwest::Url;
use scraper::{ElementRef, Html, Selector};

/// The endpoint when `search.base_url` is unset.
pub(super) const DEFAULT_URL: &str = "https://html.duckduckgo.com/html/";

/// The URL of a search for `query` at `base`.
pub(super) fn request_url(base: &str, query: &str) -> Result<Url, String> {
    let mut url = Url::parse(base).map_err(|e| format!("search.base_url {base:?}: {e}"))?;
    url.query_pairs_mut().append_pair("q", query);
    Ok(url)
}

/// The organic results of a results page, at most `limit`, in page order.
pub(super) fn parse(page: &str, limit: usize) -> Vec<SearchResult> {
    let doc = Html::parse_document(page);
    let result = Selector::parse("div.result").expect("a static selector");
    let title = Selector::parse("a.result__a").expect("a static selector");
    let snippet = Selector::parse(".result__snippet").expect("a static selector");
    doc.select(&result)
        .filter(|r| !r.value().classes().any(|c| c.starts_with("result--ad")))
        .filter_map(|r| {
            let link = r.select(&title).next()?;
            let url = target(link.value().attr("href")?)?;
            Some(SearchResult {
                title: text(link),
                url,
                snippet: r.select(&snippet).next().map(text).unwrap_or_default(),
            })
        })
        .take(limit)
        .collect()
}

/// The page a result link leads to: the redirector's `uddg` target, or the link itself
/// when it is direct. Only http(s) links are results.
fn target(href: &str) -> Option<String> {
    let absolute = if href.starts_with("//") {
        format!("https:{href}")
    } else if href.starts_with('/') {
        format!("https://duckduckgo.com{href}")
    } else {
        href.to_owned()
    };
    let url = Url::parse(&absolute).ok()?;
    let real = if url.path() == "/l/" {
        let (_, target) = url.query_pairs().find(|(k, _)| k == "uddg")?;
        Url::parse(&target).ok()?
    } else {
        url
    };
    matches!(real.scheme(), "http" | "https").then(|| real.to_string())
}

/// An element's text with its whitespace collapsed (entities are already decoded).
pub(super) fn text(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = include_str!("../../tests/fixtures/search/duckduckgo.html");

    #[test]
    fn organic_results_in_order_without_ads() {
        let results = parse(PAGE, 10);
        assert_eq!(results.len(), 6);
        assert_eq!(results[0].title, "Rust Programming Language");
        assert_eq!(results[0].url, "https://www.rust-lang.org/");
        assert_eq!(
            results[0].snippet,
            "A language empowering everyone to build reliable and efficient software. Rust is \
             blazingly fast and memory-efficient: with no runtime or garbage collector."
        );
        assert_eq!(
            results[1].url,
            "https://en.wikipedia.org/wiki/Rust_(programming_language)"
        );
        assert!(results[1].snippet.contains("memory safety & thread safety"));
        assert!(results[2].snippet.contains("you're using Rust 1.85.0"));
        // A direct link (no redirector) is kept as it is.
        assert_eq!(results[3].url, "https://github.com/rust-lang/rust");
        assert!(results.iter().all(|r| !r.title.contains("Online Course")));
    }

    #[test]
    fn limits_and_empty_pages() {
        assert_eq!(parse(PAGE, 2).len(), 2);
        assert!(parse("<html><body>No results.</body></html>", 5).is_empty());
        assert!(parse("<div class=result><a class=result__a>no href</a></div>", 5).is_empty());
    }

    #[test]
    fn redirector_targets_and_schemes() {
        assert_eq!(
            target("//duckduckgo.com/l/?uddg=https%3A%2F%2Fa.example%2Fx%3Fy%3D1&rut=z").as_deref(),
            Some("https://a.example/x?y=1")
        );
        assert_eq!(target("javascript:alert(1)"), None);
        assert_eq!(
            target("//duckduckgo.com/l/?uddg=file%3A%2F%2F%2Fetc%2Fpasswd"),
            None
        );
    }
}
