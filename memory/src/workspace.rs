//! BM25 search over the agent's workspace markdown (AGENTS.md, SOUL.md, USER.md, MEMORY.md,
//! HEARTBEAT.md, the daily logs, the learnings, and whatever else the agent writes as
//! `*.md`), with tantivy.
//!
//! The index lives outside the workspace (the agent edits the workspace; the index is a
//! cache of it) and is brought up to date before every search by [`WorkspaceIndex::refresh`]:
//! one `stat` per markdown file, compared with the modification time (nanoseconds) and size
//! recorded when the file was indexed; only new, changed and deleted files touch the index.
//! A watcher was the alternative, but inotify does not see writes made through a Docker
//! volume from the other side, it needs a thread for the agent's whole life, and a search
//! is rare next to the cost of a few hundred `stat`s (well under a millisecond each).
//!
//! Files are read as bytes and decoded lossily: a file that is not UTF-8 is still indexed
//! (its bad bytes become U+FFFD), never an error. A damaged index directory is deleted and
//! rebuilt from the files.
//!
//! Not here: the facts database (the [`MemoryStore`](crate::MemoryStore)).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
    Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term, doc};

use crate::MemoryError;

/// Characters of each file indexed (the original indexed the first 200,000 too): a huge
/// log must not make every refresh slow.
pub const MAX_FILE_CHARS: usize = 200_000;
/// Bytes read of each file: enough for [`MAX_FILE_CHARS`] characters of any script.
const MAX_FILE_BYTES: u64 = 4 * MAX_FILE_CHARS as u64;
/// Markdown files indexed at most, and directory levels walked: a workspace holding a
/// checked-out repository must not turn each search into a crawl.
pub const MAX_FILES: usize = 5_000;
const MAX_DEPTH: usize = 8;
/// Characters of a snippet.
const SNIPPET_CHARS: usize = 300;
/// The writer's heap (tantivy's minimum per thread); the workspace is small.
const WRITER_HEAP_BYTES: usize = 15_000_000;
/// Bump when the schema or the analyzer changes: an index of another version is rebuilt.
const INDEX_VERSION: &str = "v1";
const ANALYZER: &str = "ws_en";

/// What the index knew of a file when it indexed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    mtime_ns: u64,
    size: u64,
}

/// A workspace file that matches a query.
#[derive(Debug, Clone, PartialEq)]
pub struct FileHit {
    /// The path relative to the workspace, `/`-separated.
    pub path: String,
    /// BM25 score.
    pub score: f32,
    /// A piece of the file around the query's words, at most 300 characters.
    pub snippet: String,
}

/// What a refresh changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub indexed: usize,
    pub removed: usize,
    /// Files present but not indexed because [`MAX_FILES`] was reached.
    pub skipped: usize,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    path: Field,
    body: Field,
    mtime: Field,
    size: Field,
}

/// The BM25 index of one workspace. Its methods block (file reads, index writes): call them
/// from a blocking thread in async code.
pub struct WorkspaceIndex {
    root: PathBuf,
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    stamps: Mutex<HashMap<String, Stamp>>,
}

impl std::fmt::Debug for WorkspaceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceIndex")
            .field("root", &self.root)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        path: builder.add_text_field("path", STRING | STORED),
        body: builder.add_text_field("body", text),
        mtime: builder.add_u64_field("mtime_ns", INDEXED | STORED),
        size: builder.add_u64_field("size", STORED),
    };
    (builder.build(), fields)
}

/// Lower-cased words, English stop words dropped, stemmed (so "cats" finds "cat").
fn analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    match StopWordFilter::new(Language::English) {
        Some(stop) => builder
            .filter(stop)
            .filter(Stemmer::new(Language::English))
            .build(),
        None => builder.filter(Stemmer::new(Language::English)).build(),
    }
}

fn index_error(dir: &Path, e: tantivy::TantivyError) -> MemoryError {
    MemoryError::Index {
        path: dir.to_owned(),
        message: e.to_string(),
    }
}

impl WorkspaceIndex {
    /// Opens the index of `workspace` kept under `index_dir` (created if missing, rebuilt
    /// if damaged or of another version). The files are indexed by the first
    /// [`refresh`](Self::refresh).
    pub fn open(workspace: &Path, index_dir: &Path) -> Result<Self, MemoryError> {
        let dir = index_dir.join(INDEX_VERSION);
        let (schema, fields) = schema();
        let index = match Self::open_dir(&dir, &schema) {
            Ok(index) => index,
            Err(e) => {
                tracing::warn!(path = %dir.display(), error = %e, "the workspace index is unreadable: rebuilding it");
                let _ = std::fs::remove_dir_all(&dir);
                Self::open_dir(&dir, &schema).map_err(|e| index_error(&dir, e))?
            }
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| index_error(&dir, e))?;
        let this = Self {
            root: workspace.to_owned(),
            dir,
            index,
            reader,
            fields,
            stamps: Mutex::new(HashMap::new()),
        };
        let stamps = this
            .stored_stamps()
            .map_err(|e| index_error(&this.dir, e))?;
        *this.lock() = stamps;
        Ok(this)
    }

    fn open_dir(dir: &Path, schema: &Schema) -> tantivy::Result<Index> {
        std::fs::create_dir_all(dir)?;
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        let index = Index::open_or_create(directory, schema.clone())?;
        if index.schema() != *schema {
            return Err(tantivy::TantivyError::SchemaError(
                "the stored schema is not this version's".into(),
            ));
        }
        Ok(index)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stamp>> {
        self.stamps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the index holds, read back from its stored fields (after a restart).
    fn stored_stamps(&self) -> tantivy::Result<HashMap<String, Stamp>> {
        let searcher = self.reader.searcher();
        let mut stamps = HashMap::new();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(1)?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = store.get(doc_id)?;
                let path = doc.get_first(self.fields.path).and_then(|v| v.as_str());
                let mtime = doc.get_first(self.fields.mtime).and_then(|v| v.as_u64());
                let size = doc.get_first(self.fields.size).and_then(|v| v.as_u64());
                if let (Some(path), Some(mtime_ns), Some(size)) = (path, mtime, size) {
                    stamps.insert(path.to_owned(), Stamp { mtime_ns, size });
                }
            }
        }
        Ok(stamps)
    }

    /// Brings the index up to date with the workspace: indexes new and changed markdown
    /// files, drops deleted ones. Cheap when nothing changed (one `stat` per file).
    pub fn refresh(&self) -> Result<Refreshed, MemoryError> {
        let mut found = Vec::new();
        let skipped = walk(&self.root, &self.root, 0, &mut found);
        let mut stamps = self.lock();
        let present: HashMap<&str, Stamp> = found.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        let changed: Vec<&(String, Stamp)> = found
            .iter()
            .filter(|(p, s)| stamps.get(p) != Some(s))
            .collect();
        let gone: Vec<String> = stamps
            .keys()
            .filter(|p| !present.contains_key(String::as_str(p)))
            .cloned()
            .collect();
        if changed.is_empty() && gone.is_empty() {
            return Ok(Refreshed {
                skipped,
                ..Refreshed::default()
            });
        }
        let mut writer = self
            .index
            .writer_with_num_threads::<TantivyDocument>(1, WRITER_HEAP_BYTES)
            .map_err(|e| index_error(&self.dir, e))?;
        for path in &gone {
            writer.delete_term(Term::from_field_text(self.fields.path, path));
        }
        let mut indexed = Vec::new();
        for (path, stamp) in &changed {
            writer.delete_term(Term::from_field_text(self.fields.path, path));
            // A file that vanished between the walk and the read is dropped, not an error.
            let Some(body) = read_lossy(&self.root.join(path)) else {
                continue;
            };
            writer
                .add_document(doc!(
                    self.fields.path => path.as_str(),
                    self.fields.body => body,
                    self.fields.mtime => stamp.mtime_ns,
                    self.fields.size => stamp.size,
                ))
                .map_err(|e| index_error(&self.dir, e))?;
            indexed.push((path.clone(), *stamp));
        }
        writer.commit().map_err(|e| index_error(&self.dir, e))?;
        self.reader
            .reload()
            .map_err(|e| index_error(&self.dir, e))?;
        for path in &gone {
            stamps.remove(path);
        }
        let count = indexed.len();
        stamps.extend(indexed);
        Ok(Refreshed {
            indexed: count,
            removed: gone.len(),
            skipped,
        })
    }

    /// The files best matching `query` (BM25), best first; refresh first to see recent
    /// edits. Query syntax mistakes are forgiven (the words are still searched); a query of
    /// only stop words matches nothing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<FileHit>, MemoryError> {
        // An empty query would parse into one that matches every file.
        if limit == 0 || !Self::searchable(query) {
            return Ok(Vec::new());
        }
        let parser = QueryParser::for_index(&self.index, vec![self.fields.body]);
        let (query, _mistakes) = parser.parse_query_lenient(query);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(|e| index_error(&self.dir, e))?;
        let mut snippets = SnippetGenerator::create(&searcher, &query, self.fields.body)
            .map_err(|e| index_error(&self.dir, e))?;
        snippets.set_max_num_chars(SNIPPET_CHARS);
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(|e| index_error(&self.dir, e))?;
            let path = doc
                .get_first(self.fields.path)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let snippet = snippets.snippet_from_doc(&doc);
            let snippet = if snippet.is_empty() {
                let body = doc.get_first(self.fields.body).and_then(|v| v.as_str());
                body.unwrap_or_default()
                    .chars()
                    .take(SNIPPET_CHARS)
                    .collect()
            } else {
                snippet.fragment().trim().to_owned()
            };
            hits.push(FileHit {
                path,
                score,
                snippet,
            });
        }
        Ok(hits)
    }

    /// Whether `query` has a word the index can search for (not only stop words or
    /// punctuation).
    pub fn searchable(query: &str) -> bool {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream(query);
        stream.advance()
    }
}

/// Collects the `*.md` files under `dir` with their stamps; returns how many were left out
/// past [`MAX_FILES`]. Hidden entries and symlinks are skipped (a link could point out of
/// the workspace); unreadable directories are skipped quietly.
fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Vec<(String, Stamp)>) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut skipped = 0;
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            if depth + 1 < MAX_DEPTH {
                skipped += walk(root, &path, depth + 1, found);
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "md") {
            if found.len() >= MAX_FILES {
                skipped += 1;
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            found.push((
                relative,
                Stamp {
                    mtime_ns,
                    size: meta.len(),
                },
            ));
        }
    }
    skipped
}

/// The first [`MAX_FILE_CHARS`] characters of `path`, decoded lossily.
fn read_lossy(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    Some(text.chars().take(MAX_FILE_CHARS).collect())
}
