ln -s l2 loop; ln -s loop l2
