//! Cranelift's incremental cache across two Python components: compile A cold (filling
//! the cache), then B with the cache, and B without it.
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::{CacheStore, Config, Engine};

#[derive(Debug, Default)]
struct Mem {
    map: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    hits: AtomicUsize,
    misses: AtomicUsize,
}
impl CacheStore for Mem {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let v = self.map.lock().unwrap().get(key).cloned();
        if v.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        v.map(Cow::Owned)
    }
    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.map.lock().unwrap().insert(key.to_vec(), value);
        true
    }
}

fn main() {
    let a = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let b = std::fs::read(std::env::args().nth(2).unwrap()).unwrap();
    let store = Arc::new(Mem::default());
    let mut c = Config::new();
    c.consume_fuel(true).epoch_interruption(true);
    c.enable_incremental_compilation(store.clone()).unwrap();
    let cached = Engine::new(&c).unwrap();
    let mut c = Config::new();
    c.consume_fuel(true).epoch_interruption(true);
    let plain = Engine::new(&c).unwrap();
    let t = Instant::now();
    cached.precompile_component(&a).unwrap();
    let took = t.elapsed();
    let (entries, bytes) = {
        let map = store.map.lock().unwrap();
        (
            map.len(),
            map.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
        )
    };
    println!(
        "A cold, filling cache: {took:.2?} (hits {}, misses {}, entries {entries}, bytes {bytes})",
        store.hits.load(Ordering::Relaxed),
        store.misses.load(Ordering::Relaxed)
    );
    store.hits.store(0, Ordering::Relaxed);
    store.misses.store(0, Ordering::Relaxed);
    for _ in 0..2 {
        let t = Instant::now();
        plain.precompile_component(&b).unwrap();
        println!("B without cache: {:.2?}", t.elapsed());
        let t = Instant::now();
        cached.precompile_component(&b).unwrap();
        println!(
            "B with cache: {:.2?} (hits {}, misses {})",
            t.elapsed(),
            store.hits.load(Ordering::Relaxed),
            store.misses.load(Ordering::Relaxed)
        );
        store.hits.store(0, Ordering::Relaxed);
        store.misses.store(0, Ordering::Relaxed);
    }
}
