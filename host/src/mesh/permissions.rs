//! The live permission matrix, swapped whole on reload.

use std::sync::{Arc, RwLock};

use crate::permissions::PermissionMatrix;

/// Holds the current [`PermissionMatrix`]. Readers take an `Arc` snapshot, so a reload never
/// changes the rules under a request that is half way through its checks.
#[derive(Debug)]
pub struct Permissions {
    current: RwLock<Arc<PermissionMatrix>>,
}

impl Permissions {
    pub fn new(matrix: PermissionMatrix) -> Self {
        Self {
            current: RwLock::new(Arc::new(matrix)),
        }
    }

    pub fn current(&self) -> Arc<PermissionMatrix> {
        Arc::clone(&self.current.read().expect("permissions lock"))
    }

    pub fn replace(&self, matrix: PermissionMatrix) {
        *self.current.write().expect("permissions lock") = Arc::new(matrix);
    }
}
