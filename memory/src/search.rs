//! Finding facts: hybrid scoring, and the three tiers.
//!
//! A fact's score for a query is `(w_v · cosine + w_k · bm25) · salience`, where `bm25` is
//! FTS5's score relative to the best keyword hit (1 for the best, toward 0 for weak ones,
//! 0 for none) and `cosine` is the similarity of the query's vector to the fact's (0
//! without vectors; the weights then fall to keywords alone). Candidates are the union of
//! the vector KNN and the keyword hits.
//!
//! Tiers: (1) the categories the query is about — its vector near a category's centroid,
//! or a query word naming the category; (2) the facts of those categories, ranked; (3) if
//! that does not fill the limit, the rest of the facts, ranked, after them.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::MemoryError;
use crate::embedder::cosine;
use crate::keywords::{fts_query, keywords};
use crate::nearest::{Near, nearest};
use crate::store::{FACT_COLUMNS, Fact, MemoryStore, fact_from_row, similarity};

/// Candidates per tier and per source (KNN, FTS) for each result asked for.
const CANDIDATES_PER_RESULT: usize = 4;

/// Facts the vector scan re-ranks exactly per candidate: sign bits order neighbours
/// only roughly, and the tiers filter the pool by category.
const NEAR_POOL_PER_CANDIDATE: usize = 8;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Results at most.
    pub limit: usize,
    /// Whether returning a fact counts as using it (boosts its salience). Off for
    /// evaluation and inspection.
    pub touch: bool,
    /// Whether to look in the query's categories first (tiers 1–2) or rank everything
    /// together (tier 3 only).
    pub tiered: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            limit: 5,
            touch: true,
            tiered: true,
        }
    }
}

/// Which tier found a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// In a category the query is about.
    Category,
    /// In the flat fallback over every fact.
    Flat,
}

/// A search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub fact: Fact,
    pub score: f64,
    /// Cosine similarity to the query, when both have vectors.
    pub vector: Option<f32>,
    /// Keyword score relative to the best keyword hit, when the fact matched words.
    pub keyword: Option<f64>,
    pub tier: Tier,
}

impl MemoryStore {
    /// The facts best matching `query`. A query without a searchable word (only stop
    /// words, punctuation) returns nothing.
    pub async fn search(
        &self,
        query: &str,
        options: SearchOptions,
    ) -> Result<Vec<Hit>, MemoryError> {
        self.search_scoped(query, None, options).await
    }

    /// [`search`](Self::search) among the facts of `category` only (no tiers: the
    /// category is given).
    pub async fn search_in(
        &self,
        query: &str,
        category: &str,
        options: SearchOptions,
    ) -> Result<Vec<Hit>, MemoryError> {
        self.search_scoped(query, Some(category), options).await
    }

    async fn search_scoped(
        &self,
        query: &str,
        only: Option<&str>,
        options: SearchOptions,
    ) -> Result<Vec<Hit>, MemoryError> {
        let words = keywords(query);
        if words.is_empty() || options.limit == 0 {
            return Ok(Vec::new());
        }
        let vector = self
            .vectors
            .embed(&[query.trim().to_owned()])
            .await
            .and_then(|mut v| v.pop());
        let hits = {
            let conn = self.read();
            // One scan of the vectors serves every tier.
            let near = match vector.as_deref() {
                Some(q) => nearest(
                    &conn,
                    q,
                    options.limit * CANDIDATES_PER_RESULT * NEAR_POOL_PER_CANDIDATE,
                )?,
                None => Vec::new(),
            };
            let scorer = Scorer {
                conn: &conn,
                store: self,
                words: &words,
                fts: fts_query(&words),
                vector: vector.as_deref(),
                near: &near,
                limit: options.limit,
            };
            let mut hits = Vec::new();
            if let Some(category) = only {
                let hits = scorer.rank(Some(&[category.to_owned()]), &[], Tier::Category)?;
                drop(conn);
                if options.touch && !hits.is_empty() {
                    let ids: Vec<i64> = hits.iter().map(|h| h.fact.id).collect();
                    self.touch_found(&ids);
                }
                return Ok(hits);
            }
            if options.tiered {
                let categories = scorer.categories()?;
                if !categories.is_empty() {
                    hits = scorer.rank(Some(&categories), &[], Tier::Category)?;
                }
            }
            if hits.len() < options.limit {
                let seen: Vec<i64> = hits.iter().map(|h| h.fact.id).collect();
                let more = scorer.rank(None, &seen, Tier::Flat)?;
                hits.extend(more.into_iter().take(options.limit - hits.len()));
            }
            hits
        };
        if options.touch && !hits.is_empty() {
            let ids: Vec<i64> = hits.iter().map(|h| h.fact.id).collect();
            self.touch_found(&ids);
        }
        Ok(hits)
    }

    /// Marks the facts found as used. Bookkeeping: a failure (a full disk) is logged and the
    /// search still answers, so an agent can read its memory when it cannot write it.
    fn touch_found(&self, ids: &[i64]) {
        if let Err(e) = self.touch(ids) {
            tracing::warn!(error = %e, "the facts found were not marked as used");
        }
    }
}

struct Scorer<'a> {
    conn: &'a Connection,
    store: &'a MemoryStore,
    words: &'a [String],
    fts: String,
    vector: Option<&'a [f32]>,
    /// The facts nearest the query's vector, exact similarity, best first.
    near: &'a [Near],
    limit: usize,
}

impl Scorer<'_> {
    /// Tier 1: the categories to look in first, best first.
    fn categories(&self) -> Result<Vec<String>, MemoryError> {
        let config = &self.store.config;
        let mut chosen: Vec<(String, f32)> = Vec::new();
        if let Some(q) = self.vector {
            for (category, centroid) in self.store.centroids(self.conn)?.iter() {
                let s = cosine(q, centroid);
                if s >= config.category_similarity {
                    chosen.push((category.clone(), s));
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT category FROM facts")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for name in names {
            let named = keywords(&name).iter().any(|w| self.words.contains(w));
            if named && !chosen.iter().any(|(c, _)| *c == name) {
                // A category the query names outranks one it is only near.
                chosen.push((name, 2.0));
            }
        }
        chosen.sort_by(|a, b| b.1.total_cmp(&a.1));
        chosen.truncate(config.max_categories);
        Ok(chosen.into_iter().map(|(c, _)| c).collect())
    }

    /// Tiers 2 and 3: facts (in `categories`, or all), minus `skip`, ranked.
    fn rank(
        &self,
        categories: Option<&[String]>,
        skip: &[i64],
        tier: Tier,
    ) -> Result<Vec<Hit>, MemoryError> {
        let k = self.limit * CANDIDATES_PER_RESULT + skip.len();
        let mut keyword: HashMap<i64, f64> = HashMap::new();
        let mut vector: HashMap<i64, f32> = HashMap::new();
        let scopes: Vec<Option<&String>> = match categories {
            Some(list) => list.iter().map(Some).collect(),
            None => vec![None],
        };
        for scope in &scopes {
            self.keyword_hits(*scope, k, &mut keyword)?;
            self.vector_hits(*scope, k, &mut vector);
        }
        let best = keyword.values().copied().fold(0.0, f64::max);
        let mut ids: Vec<i64> = keyword.keys().chain(vector.keys()).copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|id| !skip.contains(id));
        let config = &self.store.config;
        let (wv, wk) = if self.vector.is_some() {
            (config.vector_weight, config.keyword_weight)
        } else {
            (0.0, 1.0)
        };
        let mut hits = Vec::with_capacity(ids.len());
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FACT_COLUMNS}, embedding FROM facts WHERE id = ?1"
        ))?;
        for id in ids {
            let (fact, blob) = stmt.query_row([id], |r| {
                Ok((fact_from_row(r)?, r.get::<_, Option<Vec<u8>>>(12)?))
            })?;
            let cos = match (self.vector, vector.get(&id), &blob) {
                (_, Some(&s), _) => Some(s),
                (Some(q), None, Some(b)) => Some(similarity(q, b)),
                _ => None,
            };
            let kw = keyword
                .get(&id)
                .map(|s| if best > 0.0 { s / best } else { 1.0 });
            let score = (wv * f64::from(cos.unwrap_or(0.0).max(0.0)) + wk * kw.unwrap_or(0.0))
                * fact.salience;
            hits.push(Hit {
                fact,
                score,
                vector: cos,
                keyword: kw,
                tier,
            });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.fact.id.cmp(&b.fact.id)));
        hits.truncate(self.limit);
        Ok(hits)
    }

    /// BM25 hits (positive, higher is better) of the query's words.
    fn keyword_hits(
        &self,
        category: Option<&String>,
        k: usize,
        out: &mut HashMap<i64, f64>,
    ) -> Result<(), MemoryError> {
        // Key words weigh more than value words: the key says what the fact is about.
        let sql = "SELECT f.rowid, -bm25(facts_fts, 2.0, 1.0, 0.5) FROM facts_fts f
                   JOIN facts ON facts.id = f.rowid
                   WHERE facts_fts MATCH ?1 AND (?2 IS NULL OR facts.category = ?2)
                   ORDER BY bm25(facts_fts, 2.0, 1.0, 0.5) LIMIT ?3";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params![self.fts, category, k as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
        })?;
        for row in rows {
            let (id, score) = row?;
            out.insert(id, score.max(0.0));
        }
        Ok(())
    }

    /// The `k` facts nearest the query's vector (in `category`, if given).
    fn vector_hits(&self, category: Option<&String>, k: usize, out: &mut HashMap<i64, f32>) {
        let near = self
            .near
            .iter()
            .filter(|n| category.is_none_or(|c| n.category == *c));
        for n in near.take(k) {
            out.insert(n.id, n.similarity);
        }
    }
}
