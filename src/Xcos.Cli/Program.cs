// Replaced by the CLI; kept minimal so the solution builds while components land.
return 0;
