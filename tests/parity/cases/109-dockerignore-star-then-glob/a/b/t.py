py2
