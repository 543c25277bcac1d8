//! The service map of an incident page: the incident's services and their
//! neighbours placed in columns by call depth (callers left of callees),
//! ready for the template to draw as SVG. Pure geometry, no drawing here.
//!
//! ```
//! use argus_ui::graph::layout;
//! let edges = vec![("web".to_string(), "api".to_string()), ("api".to_string(), "db".to_string())];
//! let g = layout(&["api".to_string(), "db".to_string()], &edges, Some("db"));
//! let x = |n: &str| g.nodes.iter().find(|v| v.name == n).unwrap().x;
//! assert!(x("web") < x("api") && x("api") < x("db"));
//! assert!(g.nodes.iter().any(|n| n.name == "db" && n.root && n.incident));
//! assert_eq!(g.edges.len(), 2);
//! ```

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Box width of a service, in SVG units.
pub const NODE_W: u32 = 150;
/// Box height of a service.
pub const NODE_H: u32 = 30;
const GAP_X: u32 = 70;
const GAP_Y: u32 = 14;
const PAD: u32 = 12;
/// Room below the boxes for edges that go back against the call order.
const BACK_ROOM: u32 = 34;
/// The most services drawn; the incident's own come first.
pub const MAX_NODES: usize = 40;
/// Labels longer than this are cut (the full name is in the tooltip).
const LABEL_CHARS: usize = 18;

/// The laid-out map.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Graph {
    /// The drawing's width.
    pub width: u32,
    /// The drawing's height.
    pub height: u32,
    /// The services, with their box's top-left corner.
    pub nodes: Vec<Node>,
    /// The calls, as SVG path data.
    pub edges: Vec<Edge>,
    /// Services left out beyond [`MAX_NODES`].
    pub hidden: usize,
    /// Every box's width.
    pub node_w: u32,
    /// Every box's height.
    pub node_h: u32,
}

/// One service box.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Node {
    /// The service.
    pub name: String,
    /// The name as drawn (cut to fit the box).
    pub label: String,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Where the label's text starts (`x` plus padding).
    pub text_x: u32,
    /// The label's baseline.
    pub text_y: u32,
    /// The column (call depth, 0 for services nobody here calls).
    pub layer: usize,
    /// One of the incident's services.
    pub incident: bool,
    /// The incident's root.
    pub root: bool,
}

/// One call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Edge {
    /// The calling service.
    pub caller: String,
    /// The called service.
    pub callee: String,
    /// SVG path data from the caller's box to the callee's.
    pub path: String,
    /// Both ends are the incident's services.
    pub incident: bool,
    /// It goes against the column order (part of a call cycle).
    pub back: bool,
    /// The callee calls the caller too (drawn once, with arrows at both ends).
    pub both: bool,
}

fn label(name: &str) -> String {
    if name.chars().count() <= LABEL_CHARS {
        return name.to_string();
    }
    let mut s: String = name.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// Lays out `incident` (the incident's services) and the `edges`
/// (caller, callee) around them; `root` is marked.
pub fn layout(incident: &[String], edges: &[(String, String)], root: Option<&str>) -> Graph {
    let mine: BTreeSet<&str> = incident.iter().map(String::as_str).collect();
    // The services drawn: the incident's own first, then neighbours by name.
    let mut names: Vec<&str> = mine.iter().copied().collect();
    let others: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .filter(|n| !mine.contains(n))
        .collect();
    names.extend(others);
    let hidden = names.len().saturating_sub(MAX_NODES);
    names.truncate(MAX_NODES);
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let n = names.len();

    let mut calls: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a.as_str())?, *index.get(b.as_str())?)))
        .filter(|(a, b)| a != b)
        .collect();
    calls.sort_unstable();
    calls.dedup();

    let back = back_edges(n, &calls, &names);
    let layer = layers(n, &calls, &back);

    // Rows within a column: by the mean row of the callers already placed, then by name.
    let columns = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut row = vec![0usize; n];
    let mut sizes = Vec::with_capacity(columns);
    for col in 0..columns {
        let mut members: Vec<(f64, &str, usize)> = (0..n)
            .filter(|&i| layer[i] == col)
            .map(|i| {
                let callers: Vec<usize> = calls
                    .iter()
                    .enumerate()
                    .filter(|(k, (a, b))| *b == i && !back.contains(k) && layer[*a] < col)
                    .map(|(_, (a, _))| row[*a])
                    .collect();
                let key = if callers.is_empty() {
                    f64::MAX
                } else {
                    callers.iter().sum::<usize>() as f64 / callers.len() as f64
                };
                (key, names[i], i)
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        for (r, (_, _, i)) in members.iter().enumerate() {
            row[*i] = r;
        }
        sizes.push(members.len());
    }
    let rows = sizes.iter().copied().max().unwrap_or(0);
    let step_y = NODE_H + GAP_Y;
    let pos = |i: usize| -> (u32, u32) {
        let col = layer[i];
        // Shorter columns are centred against the tallest.
        let offset = (rows - sizes[col]) as u32 * step_y / 2;
        (
            PAD + col as u32 * (NODE_W + GAP_X),
            PAD + offset + row[i] as u32 * step_y,
        )
    };

    let nodes = (0..n)
        .map(|i| {
            let (x, y) = pos(i);
            Node {
                name: names[i].to_string(),
                label: label(names[i]),
                x,
                y,
                text_x: x + 8,
                text_y: y + NODE_H / 2 + 5,
                layer: layer[i],
                incident: mine.contains(names[i]),
                root: root == Some(names[i]),
            }
        })
        .collect();
    let is_back = |a: usize, b: usize| layer[b] <= layer[a];
    // A call back along a drawn call (two services calling each other) is
    // drawn as that call's second arrow.
    let mutual = |a: usize, b: usize| calls.contains(&(b, a));
    let drawn: Vec<(usize, usize)> = calls
        .iter()
        .copied()
        .filter(|&(a, b)| !(is_back(a, b) && mutual(a, b) && !is_back(b, a)))
        .collect();
    let any_back = drawn.iter().any(|&(a, b)| is_back(a, b));
    let bottom = (PAD + rows as u32 * step_y).saturating_sub(GAP_Y);
    let edges = drawn
        .iter()
        .map(|&(a, b)| {
            let ((x1, y1), (x2, y2)) = (pos(a), pos(b));
            let back = is_back(a, b);
            let path = if back {
                // Below every box, from the caller's bottom to the callee's.
                let (sx, sy, ex, ey) = (x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2 + NODE_H);
                let low = bottom + BACK_ROOM - 4;
                format!("M{sx},{sy} C{sx},{low} {ex},{low} {ex},{ey}")
            } else {
                let (sx, sy, ex, ey) = (x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2);
                let mid = (sx + ex) / 2;
                format!("M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}")
            };
            Edge {
                caller: names[a].to_string(),
                callee: names[b].to_string(),
                path,
                incident: mine.contains(names[a]) && mine.contains(names[b]),
                back,
                both: mutual(a, b),
            }
        })
        .collect();
    Graph {
        width: if n == 0 {
            0
        } else {
            2 * PAD + columns as u32 * NODE_W + (columns as u32 - 1) * GAP_X
        },
        height: if n == 0 {
            0
        } else {
            bottom + PAD + if any_back { BACK_ROOM } else { 0 }
        },
        nodes,
        edges,
        hidden,
        node_w: NODE_W,
        node_h: NODE_H,
    }
}

/// The indices (into `calls`) of the edges that close a cycle, found by a
/// depth-first walk from the services nobody calls, then from the rest by name.
fn back_edges(n: usize, calls: &[(usize, usize)], names: &[&str]) -> BTreeSet<usize> {
    let mut out_edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut called = vec![false; n];
    for (k, &(a, b)) in calls.iter().enumerate() {
        out_edges[a].push((k, b));
        called[b] = true;
    }
    let mut by_name: Vec<usize> = (0..n).collect();
    by_name.sort_by_key(|&i| names[i]);
    let starts = by_name
        .iter()
        .copied()
        .filter(|&i| !called[i])
        .chain(by_name.iter().copied());
    // 0 unseen, 1 on the walk's path, 2 done.
    let mut mark = vec![0u8; n];
    let mut back = BTreeSet::new();
    for s in starts {
        if mark[s] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
        mark[s] = 1;
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            top.1 += 1;
            if let Some(&(k, w)) = out_edges[v].get(next) {
                match mark[w] {
                    0 => {
                        mark[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => {
                        back.insert(k);
                    }
                    _ => {}
                }
            } else {
                mark[v] = 2;
                stack.pop();
            }
        }
    }
    back
}

/// Longest call depth of each service over the edges that are not `back`.
fn layers(n: usize, calls: &[(usize, usize)], back: &BTreeSet<usize>) -> Vec<usize> {
    let mut indeg = vec![0usize; n];
    for (k, &(_, b)) in calls.iter().enumerate() {
        if !back.contains(&k) {
            indeg[b] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    while let Some(v) = ready.pop() {
        for (k, &(a, b)) in calls.iter().enumerate() {
            if a != v || back.contains(&k) {
                continue;
            }
            layer[b] = layer[b].max(layer[v] + 1);
            indeg[b] -= 1;
            if indeg[b] == 0 {
                ready.push(b);
            }
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    fn node<'a>(g: &'a Graph, name: &str) -> &'a Node {
        g.nodes.iter().find(|n| n.name == name).unwrap()
    }

    #[test]
    fn columns_follow_the_longest_call_chain() {
        let edges = vec![
            e("web", "api"),
            e("api", "db"),
            e("web", "db"),
            e("batch", "db"),
        ];
        let g = layout(&["db".to_string()], &edges, Some("db"));
        assert_eq!(node(&g, "web").layer, 0);
        assert_eq!(node(&g, "batch").layer, 0);
        assert_eq!(node(&g, "api").layer, 1);
        assert_eq!(node(&g, "db").layer, 2, "db is below api, not beside it");
        assert!(node(&g, "db").root && node(&g, "db").incident);
        assert!(!node(&g, "web").incident);
        assert!(g.edges.iter().all(|e| !e.back));
        // Every box inside the drawing, none overlapping.
        for a in &g.nodes {
            assert!(a.x + NODE_W <= g.width && a.y + NODE_H <= g.height, "{a:?}");
            for b in &g.nodes {
                if a.name != b.name {
                    assert!(a.x != b.x || a.y.abs_diff(b.y) >= NODE_H, "{a:?} {b:?}");
                }
            }
        }
        // Forward edges leave the caller's right side for the callee's left.
        let web_api = g
            .edges
            .iter()
            .find(|x| x.caller == "web" && x.callee == "api")
            .unwrap();
        let w = node(&g, "web");
        assert!(web_api
            .path
            .starts_with(&format!("M{},{}", w.x + NODE_W, w.y + NODE_H / 2)));
    }

    #[test]
    fn cycles_and_lone_services_are_placed() {
        let edges = vec![e("a", "b"), e("b", "c"), e("c", "a"), e("x", "x")];
        let g = layout(&["a".to_string(), "lone".to_string()], &edges, None);
        assert_eq!(g.nodes.len(), 5, "{g:?}");
        assert_eq!(g.edges.len(), 3, "a self-call is not drawn");
        assert_eq!(g.edges.iter().filter(|e| e.back).count(), 1);
        let back = g.edges.iter().find(|e| e.back).unwrap();
        assert_eq!((back.caller.as_str(), back.callee.as_str()), ("c", "a"));
        assert!(!back.both);
        assert_eq!(node(&g, "lone").layer, 0);
        let (a, b, c) = (
            node(&g, "a").layer,
            node(&g, "b").layer,
            node(&g, "c").layer,
        );
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(g.height >= 2 * NODE_H, "room for the back edge");
    }

    #[test]
    fn services_calling_each_other_share_one_line() {
        let g = layout(&["a".to_string()], &[e("a", "b"), e("b", "a")], None);
        assert_eq!(g.edges.len(), 1, "{g:?}");
        assert!(g.edges[0].both && !g.edges[0].back);
        assert_eq!(
            (g.edges[0].caller.as_str(), g.edges[0].callee.as_str()),
            ("a", "b")
        );
    }

    #[test]
    fn big_neighbourhoods_are_cut_keeping_the_incident() {
        let edges: Vec<_> = (0..60)
            .map(|i| e(&format!("caller-{i:02}"), "hub"))
            .collect();
        let g = layout(&["hub".to_string()], &edges, Some("hub"));
        assert_eq!(g.nodes.len(), MAX_NODES);
        assert_eq!(g.hidden, 61 - MAX_NODES);
        assert!(node(&g, "hub").incident);
        assert_eq!(g.edges.len(), MAX_NODES - 1);
        let empty = layout(&[], &[], None);
        assert_eq!((empty.width, empty.height, empty.nodes.len()), (0, 0, 0));
    }

    #[test]
    fn long_names_are_cut_for_the_box() {
        let g = layout(&["a-really-long-service-name".to_string()], &[], None);
        assert_eq!(g.nodes[0].label.chars().count(), LABEL_CHARS);
        assert!(g.nodes[0].label.ends_with('…'));
        assert_eq!(g.nodes[0].name, "a-really-long-service-name");
    }
}
