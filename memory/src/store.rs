//! The store: saving facts (with semantic dedup), reading, forgetting, and salience.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::embedder::{Embedder, Vectors, cosine, from_blob, to_blob};
use crate::{MemoryError, db};

/// Longest key, in bytes: a key names a fact, it is not the fact.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest value, in bytes. A fact is a sentence or a paragraph; a document belongs in a
/// workspace file, where the workspace search finds it. Bounds the database, the prompt a
/// recalled fact lands in, and the embedder's input.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Longest category and source, in bytes.
pub const MAX_LABEL_BYTES: usize = 64;
/// Highest salience a fact reaches by being used.
pub const MAX_SALIENCE: f64 = 10.0;

/// Tuning of the store. The defaults are the Python original's where it had one.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryConfig {
    /// Length of the embedder's vectors (384 for all-MiniLM-L6-v2).
    pub dimensions: usize,
    /// Weight of vector similarity in a hybrid score.
    pub vector_weight: f64,
    /// Weight of the BM25 keyword score in a hybrid score.
    pub keyword_weight: f64,
    /// Cosine similarity at and above which a new fact updates an existing one.
    pub dedup_similarity: f32,
    /// Cosine similarity between a query and a category's centroid for the search to look
    /// in that category first.
    pub category_similarity: f32,
    /// Categories searched first, at most.
    pub max_categories: usize,
    /// Factor of a decay pass, and the floor it never goes under.
    pub decay_factor: f64,
    pub decay_floor: f64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            dimensions: 384,
            vector_weight: 0.7,
            keyword_weight: 0.3,
            dedup_similarity: 0.93,
            category_similarity: 0.5,
            max_categories: 3,
            decay_factor: 0.95,
            decay_floor: 0.01,
        }
    }
}

/// A fact to save. `category` defaults to `general`, `source` to `agent`, `confidence`
/// to 1.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewFact {
    pub key: String,
    pub value: String,
    pub category: Option<String>,
    pub source: Option<String>,
    pub confidence: Option<f64>,
}

impl NewFact {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            ..Self::default()
        }
    }

    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
}

/// A stored fact.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub id: i64,
    pub key: String,
    pub value: String,
    pub category: String,
    pub source: String,
    pub confidence: f64,
    pub has_embedding: bool,
    pub access_count: u64,
    pub last_accessed: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub salience: f64,
}

/// What [`MemoryStore::save`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Added(i64),
    /// An existing fact (same key and category, or nearly the same meaning) was updated.
    Updated(i64),
}

impl Saved {
    pub fn id(self) -> i64 {
        match self {
            Self::Added(id) | Self::Updated(id) => id,
        }
    }
}

/// Salience after a use: `min(1 + ln(1 + uses) · r, 10)` with recency
/// `r = max(0.1, 1 − 0.05 · days since the previous use)` — grows with use, less so for a
/// fact that had not been used for long (the original's formula).
pub fn boosted_salience(access_count: u64, days_since_last: f64) -> f64 {
    let recency = (1.0 - 0.05 * days_since_last.max(0.0)).max(0.1);
    (1.0 + (1.0 + access_count as f64).ln() * recency).min(MAX_SALIENCE)
}

pub(crate) const FACT_COLUMNS: &str = "id, key, value, category, source, confidence, \
     embedding IS NOT NULL, access_count, last_accessed, created_at, updated_at, salience";

fn time(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.to_utc())
}

pub(crate) fn fact_from_row(row: &Row<'_>) -> rusqlite::Result<Fact> {
    Ok(Fact {
        id: row.get(0)?,
        key: row.get(1)?,
        value: row.get(2)?,
        category: row.get(3)?,
        source: row.get(4)?,
        confidence: row.get(5)?,
        has_embedding: row.get(6)?,
        access_count: row.get::<_, i64>(7)?.max(0) as u64,
        last_accessed: row.get::<_, Option<String>>(8)?.map(|t| time(&t)),
        created_at: time(&row.get::<_, String>(9)?),
        updated_at: time(&row.get::<_, String>(10)?),
        salience: row.get(11)?,
    })
}

/// The text embedded for a fact: its key (words, not identifiers) and its value.
pub(crate) fn embedding_text(key: &str, value: &str) -> String {
    format!("{}: {value}", key.replace(['_', '-', '.'], " "))
}

/// Checks and normalises a new fact's fields.
fn validate(fact: NewFact) -> Result<NewFact, MemoryError> {
    let key = fact.key.trim().to_owned();
    let value = fact.value.trim().to_owned();
    let category = fact
        .category
        .map_or_else(|| "general".to_owned(), |c| c.trim().to_lowercase());
    let source = fact
        .source
        .map_or_else(|| "agent".to_owned(), |s| s.trim().to_owned());
    for (field, text, limit) in [
        ("key", &key, MAX_KEY_BYTES),
        ("value", &value, MAX_VALUE_BYTES),
        ("category", &category, MAX_LABEL_BYTES),
        ("source", &source, MAX_LABEL_BYTES),
    ] {
        if text.len() > limit {
            return Err(MemoryError::TooLarge {
                field,
                bytes: text.len(),
                limit,
            });
        }
        if text.is_empty() {
            return Err(MemoryError::Invalid {
                field,
                problem: "is empty",
            });
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(MemoryError::Invalid {
                field,
                problem: "contains control characters",
            });
        }
    }
    let confidence = fact.confidence.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&confidence) {
        return Err(MemoryError::Invalid {
            field: "confidence",
            problem: "must be between 0 and 1",
        });
    }
    Ok(NewFact {
        key,
        value,
        category: Some(category),
        source: Some(source),
        confidence: Some(confidence),
    })
}

/// One agent's memory. Cheap to share behind an `Arc`; SQLite work happens under a lock
/// that is never held across an `.await` (embedding happens before or after).
#[derive(Debug)]
pub struct MemoryStore {
    pub(crate) conn: Mutex<Connection>,
    pub(crate) vectors: Vectors,
    pub(crate) config: MemoryConfig,
    path: PathBuf,
    moved_aside: Option<PathBuf>,
    /// Each category's centroid, computed from every embedding on first need and dropped
    /// by every write: a search must not read all vectors (at 10k facts that was most of
    /// its time).
    centroids: Mutex<Option<Arc<Centroids>>>,
}

/// Facts the duplicate check re-ranks exactly (the bits' nearest).
const DEDUP_POOL: usize = 32;

/// Categories and the (unnormalised) sums of their facts' vectors.
pub(crate) type Centroids = Vec<(String, Vec<f32>)>;

impl MemoryStore {
    /// Opens the memory at `path` (e.g. `/data/memory.db`), creating it if needed, moving a
    /// damaged one aside (see [`MemoryStore::moved_aside`]). Without `embedder`, or while it
    /// does not answer, search is keyword-only.
    pub fn open(
        path: &Path,
        embedder: Option<Arc<dyn Embedder>>,
        config: MemoryConfig,
    ) -> Result<Self, MemoryError> {
        let opened = db::open(path, config.dimensions)?;
        Ok(Self {
            conn: Mutex::new(opened.conn),
            vectors: Vectors::new(embedder, config.dimensions),
            config,
            path: path.to_owned(),
            moved_aside: opened.moved_aside,
            centroids: Mutex::new(None),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a damaged database found at open was moved, if one was.
    pub fn moved_aside(&self) -> Option<&Path> {
        self.moved_aside.as_deref()
    }

    /// The connection, for a change of facts: the cached centroids are dropped. Reads use
    /// [`MemoryStore::read`].
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        *self.centroids.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.read()
    }

    /// The connection, for reading.
    pub(crate) fn read(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The categories' centroids, from the cache or computed on `conn`.
    pub(crate) fn centroids(&self, conn: &Connection) -> Result<Arc<Centroids>, MemoryError> {
        let mut cache = self.centroids.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref() {
            return Ok(Arc::clone(c));
        }
        let computed = Arc::new(Self::compute_centroids(conn)?);
        *cache = Some(Arc::clone(&computed));
        Ok(computed)
    }

    /// Saves a fact. A fact with the same key in the same category, or one whose meaning is
    /// nearly the same (cosine ≥ `dedup_similarity`) in the same category or where either
    /// is `general`, is updated instead: the newer wording wins, the more specific category
    /// stays, and the update counts as a use.
    pub async fn save(&self, fact: NewFact) -> Result<Saved, MemoryError> {
        let fact = validate(fact)?;
        let category = fact.category.clone().unwrap_or_default();
        let text = embedding_text(&fact.key, &fact.value);
        let vector = self
            .vectors
            .embed(std::slice::from_ref(&text))
            .await
            .and_then(|mut v| v.pop());
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let same_key: Option<i64> = tx
            .query_row(
                "SELECT id FROM facts WHERE category = ?1 AND key = ?2 COLLATE NOCASE",
                params![category, fact.key],
                |r| r.get(0),
            )
            .optional()?;
        let existing = match (same_key, &vector) {
            (Some(id), _) => Some(id),
            (None, Some(v)) => self.near_duplicate(&tx, v, &category)?,
            (None, None) => None,
        };
        let now = Utc::now().to_rfc3339();
        let blob = vector.as_deref().map(to_blob);
        let saved = match existing {
            Some(id) => {
                let (old_category, uses, last): (String, i64, Option<String>) = tx.query_row(
                    "SELECT category, access_count, coalesce(last_accessed, created_at) FROM facts WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                let category = if category == "general" {
                    old_category
                } else {
                    category.clone()
                };
                let uses = uses.max(0) as u64 + 1;
                let salience = boosted_salience(uses, days_since(last.as_deref()));
                tx.execute(
                    "UPDATE facts SET key = ?2, value = ?3, category = ?4, source = ?5,
                         confidence = max(confidence, ?6), embedding = coalesce(?7, embedding),
                         access_count = ?8, last_accessed = ?9, updated_at = ?9, salience = ?10
                     WHERE id = ?1",
                    params![
                        id,
                        fact.key,
                        fact.value,
                        category,
                        fact.source,
                        fact.confidence,
                        blob,
                        uses as i64,
                        now,
                        salience
                    ],
                )?;
                Saved::Updated(id)
            }
            None => {
                tx.execute(
                    "INSERT INTO facts(key, value, category, source, confidence, embedding,
                                       created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                    params![
                        fact.key,
                        fact.value,
                        category,
                        fact.source,
                        fact.confidence,
                        blob,
                        now
                    ],
                )?;
                Saved::Added(tx.last_insert_rowid())
            }
        };
        crate::nearest::sync(&tx, saved.id())?;
        tx.commit()?;
        Ok(saved)
    }

    /// The fact nearest `vector` if it is a duplicate of a new fact in `category`.
    fn near_duplicate(
        &self,
        conn: &Connection,
        vector: &[f32],
        category: &str,
    ) -> Result<Option<i64>, MemoryError> {
        for near in crate::nearest::nearest(conn, vector, DEDUP_POOL)? {
            if near.similarity < self.config.dedup_similarity {
                break;
            }
            let other = near.category.as_str();
            if other == category || other == "general" || category == "general" {
                return Ok(Some(near.id));
            }
        }
        Ok(None)
    }

    /// The fact `id`, if it exists.
    pub fn get(&self, id: i64) -> Result<Option<Fact>, MemoryError> {
        let conn = self.read();
        let fact = conn
            .query_row(
                &format!("SELECT {FACT_COLUMNS} FROM facts WHERE id = ?1"),
                [id],
                fact_from_row,
            )
            .optional()?;
        Ok(fact)
    }

    /// Every fact, most salient first.
    pub fn facts(&self) -> Result<Vec<Fact>, MemoryError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FACT_COLUMNS} FROM facts ORDER BY salience DESC, updated_at DESC"
        ))?;
        let facts = stmt
            .query_map([], fact_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(facts)
    }

    /// The `limit` most salient facts (for the start of a prompt), most recent first among
    /// equals.
    pub fn salient(&self, limit: usize) -> Result<Vec<Fact>, MemoryError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FACT_COLUMNS} FROM facts ORDER BY salience DESC, updated_at DESC LIMIT ?1"
        ))?;
        let facts = stmt
            .query_map([limit as i64], fact_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(facts)
    }

    /// Whether search is keyword-only now: no embedder, or its last answer failed.
    pub fn keyword_only(&self) -> bool {
        !self.vectors.available()
    }

    /// The existing category whose facts' centroid is nearest the meaning of `text`, with
    /// its cosine similarity, if one reaches `min_similarity` (`general` is never proposed:
    /// it is the default anyway). `None` without vectors.
    pub async fn nearest_category(
        &self,
        text: &str,
        min_similarity: f32,
    ) -> Result<Option<(String, f32)>, MemoryError> {
        let Some(vector) = self
            .vectors
            .embed(&[text.trim().to_owned()])
            .await
            .and_then(|mut v| v.pop())
        else {
            return Ok(None);
        };
        let centroids = self.centroids(&self.read())?;
        Ok(centroids
            .iter()
            .filter(|(category, _)| category != "general")
            .map(|(category, centroid)| (category.clone(), cosine(&vector, centroid)))
            .filter(|(_, s)| *s >= min_similarity)
            .max_by(|a, b| a.1.total_cmp(&b.1)))
    }

    /// [`MemoryStore::nearest_category`] of the fact `key`: `value`, by the text a save of
    /// it embeds, so that saving it next does not embed it again.
    pub async fn nearest_category_for(
        &self,
        key: &str,
        value: &str,
        min_similarity: f32,
    ) -> Result<Option<(String, f32)>, MemoryError> {
        self.nearest_category(&embedding_text(key, value), min_similarity)
            .await
    }

    /// Removes fact `id`; whether it existed.
    pub fn forget(&self, id: i64) -> Result<bool, MemoryError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let removed = tx.execute("DELETE FROM facts WHERE id = ?1", [id])? > 0;
        tx.execute("DELETE FROM facts_bits WHERE rowid = ?1", [id])?;
        tx.commit()?;
        Ok(removed)
    }

    /// A decay pass: every salience × `decay_factor`, never under `decay_floor`. Returns
    /// how many facts it lowered. Run it on a schedule (the original: each fresh task, and
    /// every 6 hours when idle).
    pub fn decay(&self) -> Result<usize, MemoryError> {
        // Salience only: vectors and categories stay, and so do the centroids.
        let conn = self.read();
        let n = conn.execute(
            "UPDATE facts SET salience = max(salience * ?1, ?2) WHERE salience > ?2",
            params![self.config.decay_factor, self.config.decay_floor],
        )?;
        Ok(n)
    }

    /// Embeds up to `limit` facts saved while no embedder answered. Returns how many got a
    /// vector (0 when the embedder still does not answer).
    pub async fn backfill(&self, limit: usize) -> Result<usize, MemoryError> {
        let pending: Vec<(i64, String)> = {
            let conn = self.read();
            let mut stmt =
                conn.prepare("SELECT id, key, value FROM facts WHERE embedding IS NULL LIMIT ?1")?;
            stmt.query_map([limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    embedding_text(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?),
                ))
            })?
            .collect::<Result<_, _>>()?
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let texts: Vec<String> = pending.iter().map(|(_, t)| t.clone()).collect();
        let Some(vectors) = self.vectors.embed(&texts).await else {
            return Ok(0);
        };
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for ((id, _), v) in pending.iter().zip(&vectors) {
            tx.execute(
                "UPDATE facts SET embedding = ?2 WHERE id = ?1 AND embedding IS NULL",
                params![id, to_blob(v)],
            )?;
            crate::nearest::sync(&tx, *id)?;
        }
        tx.commit()?;
        Ok(pending.len())
    }

    /// Records that the facts `ids` were used now (a search returned them).
    pub(crate) fn touch(&self, ids: &[i64]) -> Result<(), MemoryError> {
        // Salience only: vectors and categories stay, and so do the centroids.
        let mut conn = self.read();
        let tx = conn.transaction()?;
        let now = Utc::now().to_rfc3339();
        for &id in ids {
            let row: Option<(i64, String)> = tx
                .query_row(
                    "SELECT access_count, coalesce(last_accessed, created_at) FROM facts WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((uses, last)) = row else { continue };
            let uses = uses.max(0) as u64 + 1;
            let salience = boosted_salience(uses, days_since(Some(&last)));
            tx.execute(
                "UPDATE facts SET access_count = ?2, last_accessed = ?3, salience = ?4 WHERE id = ?1",
                params![id, uses as i64, now, salience],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The centroid of each category's embedded facts.
    fn compute_centroids(conn: &Connection) -> Result<Centroids, MemoryError> {
        let mut stmt = conn.prepare_cached(
            "SELECT category, embedding FROM facts WHERE embedding IS NOT NULL ORDER BY category",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: Vec<(String, Vec<f32>)> = Vec::new();
        while let Some(row) = rows.next()? {
            let category: String = row.get(0)?;
            let v = from_blob(&row.get::<_, Vec<u8>>(1)?);
            match out.last_mut() {
                Some((c, sum)) if *c == category && sum.len() == v.len() => {
                    sum.iter_mut().zip(&v).for_each(|(s, x)| *s += x);
                }
                _ => out.push((category, v)),
            }
        }
        Ok(out)
    }
}

fn days_since(raw: Option<&str>) -> f64 {
    raw.map_or(0.0, |t| {
        (Utc::now() - time(t)).num_seconds().max(0) as f64 / 86_400.0
    })
}

/// Cosine similarity between a query vector and a stored blob.
pub(crate) fn similarity(query: &[f32], blob: &[u8]) -> f32 {
    cosine(query, &from_blob(blob))
}
