mkdir empty tree tree/inner-empty tree/restricted
chmod 0700 tree/restricted
chmod 0750 tree/inner-empty
echo f > tree/f
chmod 0600 tree/f
