"""Everything that speaks to Buffer: its data shapes, its errors, and the v1 client.

    models.py    day names, time format, profile ids, Schedule and Profile (lowest layer)
    errors.py    Buffer answers -> the BufferAPIError classes of `bridge.errors`
    encoding.py  schedules -> Buffer v1's PHP-style form body, validated
    client.py    BufferClient: one access token, the four v1 Profiles endpoints

Nothing is re-exported here: import from the module that owns the name.
"""
