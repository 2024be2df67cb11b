"""The business logic of monthly reports: storing each child's report file (files), and
the ZIP bulk upload that previews, then stores, a whole class's files (zip_import)."""
