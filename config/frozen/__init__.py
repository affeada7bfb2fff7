"""Code that migrations import, frozen: a migration must build the same database whenever it runs, so nothing
here is ever edited. A change is a new versioned module (`append_only_v2.py`) that new migrations import, and
the old one stays for the migrations that use it."""
