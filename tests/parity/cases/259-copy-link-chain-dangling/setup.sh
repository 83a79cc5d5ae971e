ln -s l2 lnk; ln -s ../../nowhere l2
