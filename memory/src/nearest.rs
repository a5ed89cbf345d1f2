//! Facts nearest a vector: sign bits scanned by Hamming distance (sqlite-vec, brute force
//! but 32 times less data than floats), then that pool re-ranked by exact cosine against
//! the float embeddings kept in `facts`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::MemoryError;
use crate::embedder::to_blob;
use crate::store::similarity;

/// A fact near the query.
#[derive(Debug, Clone)]
pub(crate) struct Near {
    pub(crate) id: i64,
    /// Exact cosine similarity.
    pub(crate) similarity: f32,
    pub(crate) category: String,
}

/// The `pool` facts nearest `query` by their sign bits, most similar first by exact
/// cosine. Sign bits order neighbours only roughly: ask for several times the results
/// needed.
pub(crate) fn nearest(
    conn: &Connection,
    query: &[f32],
    pool: usize,
) -> Result<Vec<Near>, MemoryError> {
    let mut scan = conn.prepare_cached(
        "SELECT rowid FROM facts_bits
         WHERE embedding MATCH vec_quantize_binary(?1) AND k = ?2 ORDER BY distance",
    )?;
    let ids = scan
        .query_map(params![to_blob(query), pool as i64], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut fetch = conn.prepare_cached(
        "SELECT embedding, category FROM facts WHERE id = ?1 AND embedding IS NOT NULL",
    )?;
    let mut near = Vec::with_capacity(ids.len());
    for id in ids {
        let row = fetch
            .query_row([id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        if let Some((blob, category)) = row {
            near.push(Near {
                id,
                similarity: similarity(query, &blob),
                category,
            });
        }
    }
    near.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
    Ok(near)
}

/// Makes `facts_bits` hold the sign bits of fact `id`'s current embedding (or nothing).
pub(crate) fn sync(conn: &Connection, id: i64) -> Result<(), MemoryError> {
    conn.execute("DELETE FROM facts_bits WHERE rowid = ?1", [id])?;
    conn.execute(
        "INSERT INTO facts_bits(rowid, embedding)
         SELECT id, vec_quantize_binary(embedding) FROM facts WHERE id = ?1 AND embedding IS NOT NULL",
        [id],
    )?;
    Ok(())
}
