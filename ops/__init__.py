"""Operations: running the system's processes (outside the case store's package `cases`)."""
