# Writes OUTPUT, a C++ file defining `extern const char SYMBOL[]` with INPUT's bytes.
file(READ ${INPUT} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE ${OUTPUT} "namespace uhc {\nextern const char ${SYMBOL}[];\nconst char ${SYMBOL}[] = {${bytes} 0};\n}  // namespace uhc\n")
