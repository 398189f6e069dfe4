//! Tables and the schema: a backend stores one ordered map of byte keys to byte values per
//! table. The store knows tables by number and name only; which tables a database has, and
//! what their keys mean, is the engine's layout.

/// One table of a database: its position in the [`Schema`] and its name in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Table {
    id: usize,
    name: &'static str,
}

impl Table {
    /// The table number `id` of a schema, named `name` in the file (lower-case, `_`).
    pub const fn new(id: usize, name: &'static str) -> Self {
        Self { id, name }
    }

    /// Its position in the schema.
    pub const fn id(self) -> usize {
        self.id
    }

    /// Its name in the file.
    pub const fn name(self) -> &'static str {
        self.name
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The tables of a database, in order: table `i` has id `i` (checked when the schema is made,
/// at compile time for a `const`), so a backend can keep per-table state in an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    tables: &'static [Table],
}

impl Schema {
    /// A schema of `tables`; panics (at compile time in a `const`) unless each table's id is
    /// its position and the names are unique.
    pub const fn new(tables: &'static [Table]) -> Self {
        let mut i = 0;
        while i < tables.len() {
            assert!(tables[i].id == i, "a table's id must be its position");
            let mut j = 0;
            while j < i {
                assert!(
                    !const_str_eq(tables[i].name, tables[j].name),
                    "table names must be unique"
                );
                j += 1;
            }
            i += 1;
        }
        Self { tables }
    }

    /// Every table, in id order.
    pub const fn tables(self) -> &'static [Table] {
        self.tables
    }

    /// How many tables.
    pub const fn len(self) -> usize {
        self.tables.len()
    }

    /// Whether the schema has no table.
    pub const fn is_empty(self) -> bool {
        self.tables.is_empty()
    }
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "position")]
    fn a_schema_refuses_a_table_out_of_place() {
        static TABLES: [Table; 1] = [Table::new(1, "one")];
        let _ = Schema::new(&TABLES);
    }

    #[test]
    #[should_panic(expected = "unique")]
    fn a_schema_refuses_two_tables_of_one_name() {
        static TABLES: [Table; 2] = [Table::new(0, "same"), Table::new(1, "same")];
        let _ = Schema::new(&TABLES);
    }
}
