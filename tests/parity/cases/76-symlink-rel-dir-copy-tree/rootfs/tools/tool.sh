tool
