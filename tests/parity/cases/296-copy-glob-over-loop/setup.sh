ln -s loop loop; echo a296 > la
