//! The steps of a workflow as a graph: the order in which they can run (dependencies
//! first), found depth-first with an explicit stack so a long chain cannot exhaust the
//! thread's stack, with every cycle named by its path; and which steps one step depends
//! on, directly or through others (what its condition and input may read).

use std::collections::{HashMap, HashSet};

use super::file::StepFile;

/// What is wrong with the graph, by step index and dependency index.
#[derive(Debug)]
pub(super) enum Problem {
    BadId(usize),
    DuplicateId(usize),
    Dependency {
        step: usize,
        dep: usize,
        why: String,
    },
}

/// The steps' indices, dependencies first (file order otherwise). `id_ok` checks each id.
pub(super) fn order(
    steps: &[StepFile],
    id_ok: impl Fn(&str) -> bool,
) -> Result<Vec<usize>, Problem> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        let id = s.id.value.as_str();
        if !id_ok(id) {
            return Err(Problem::BadId(i));
        }
        if index.insert(id, i).is_some() {
            return Err(Problem::DuplicateId(i));
        }
    }
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let mut mine = Vec::new();
        for (j, d) in s.depends_on.iter().enumerate() {
            let problem = |why: String| Problem::Dependency {
                step: i,
                dep: j,
                why,
            };
            let Some(&k) = index.get(d.value.as_str()) else {
                return Err(problem(format!("no step {:?} in this workflow", d.value)));
            };
            if k == i {
                return Err(problem(format!("step {:?} depends on itself", d.value)));
            }
            if mine.contains(&k) {
                return Err(problem(format!("{:?} is listed twice", d.value)));
            }
            mine.push(k);
        }
        deps.push(mine);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks = vec![Mark::New; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    for start in 0..steps.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // (node, next dependency to visit)
        let mut stack = vec![(start, 0usize)];
        marks[start] = Mark::Open;
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            let Some(&dep) = deps[node].get(top.1) else {
                marks[node] = Mark::Done;
                order.push(node);
                stack.pop();
                continue;
            };
            let j = top.1;
            top.1 += 1;
            match marks[dep] {
                Mark::Done => {}
                Mark::New => {
                    marks[dep] = Mark::Open;
                    stack.push((dep, 0));
                }
                Mark::Open => {
                    let from = stack
                        .iter()
                        .position(|&(n, _)| n == dep)
                        .expect("open nodes are on the stack");
                    let mut cycle: Vec<&str> = stack[from..]
                        .iter()
                        .map(|&(n, _)| steps[n].id.value.as_str())
                        .collect();
                    cycle.push(steps[dep].id.value.as_str());
                    return Err(Problem::Dependency {
                        step: node,
                        dep: j,
                        why: format!("a dependency cycle: {}", cycle.join(" -> ")),
                    });
                }
            }
        }
    }
    Ok(order)
}

/// The steps and their dependencies by index.
pub(super) struct Graph<'a> {
    index: HashMap<&'a str, usize>,
    deps: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    /// Over steps whose dependencies are known to exist.
    pub(super) fn new(steps: &'a [StepFile]) -> Self {
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.value.as_str(), i))
            .collect();
        let deps = steps
            .iter()
            .map(|s| {
                s.depends_on
                    .iter()
                    .map(|d| index[d.value.as_str()])
                    .collect()
            })
            .collect();
        Self { index, deps }
    }
}

/// The steps one step depends on, directly or through others.
pub(super) struct Upstream<'a> {
    pub(super) graph: &'a Graph<'a>,
    pub(super) of: usize,
}

impl Upstream<'_> {
    pub(super) fn contains(&self, id: &str) -> bool {
        let Some(&target) = self.graph.index.get(id) else {
            return false;
        };
        let mut seen = HashSet::new();
        let mut stack = self.graph.deps[self.of].clone();
        while let Some(n) = stack.pop() {
            if n == target {
                return true;
            }
            if seen.insert(n) {
                stack.extend(&self.graph.deps[n]);
            }
        }
        false
    }
}
