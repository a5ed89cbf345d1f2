//! The CLI's fixed-width tables: borderless, columns two spaces apart, each as wide as its
//! widest cell, laid out by comfy-table instead of hand-padded format strings. Lists meant
//! for scripts (cron, webhooks, workflows, channels) stay tab-separated and are not here.

use comfy_table::presets::NOTHING;
use comfy_table::{CellAlignment, ContentArrangement, Table};

/// A table with `header` (none when empty), no borders and no wrapping.
pub(crate) fn plain(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    if !header.is_empty() {
        table.set_header(header.iter().copied());
    }
    table
}

/// Right-aligns the columns at `indexes` (numbers).
pub(crate) fn right_align(table: &mut Table, indexes: &[usize]) {
    for &i in indexes {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// The table's lines, without the padding comfy-table puts before the first column and
/// after the last.
pub(crate) fn lines(table: &Table) -> Vec<String> {
    table
        .lines()
        .map(|l| {
            let l = l.strip_prefix(' ').unwrap_or(&l).trim_end();
            l.to_owned()
        })
        .collect()
}

/// Prints the table.
pub(crate) fn print(table: &Table) {
    for line in lines(table) {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_numbers_align_right() {
        let mut t = plain(&["agent", "calls"]);
        t.add_row(["a", "3"]);
        t.add_row(["longer", "12"]);
        right_align(&mut t, &[1]);
        assert_eq!(
            lines(&t),
            ["agent   calls", "a           3", "longer     12"]
        );
    }

    #[test]
    fn without_a_header_only_the_rows_are_printed() {
        let mut t = plain(&[]);
        t.add_row(["@agent message", "talk"]);
        assert_eq!(lines(&t), ["@agent message  talk"]);
    }
}
