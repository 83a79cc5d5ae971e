echo c > c.txt; echo l > l.log
