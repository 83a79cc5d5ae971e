echo s > secret; ln -s secret lnk
