# Turns one file into a C string constant so a binary carries its own data
# (the official working-day calendar). Invoked with IN, OUT and NAME.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed_file.cmake: do not edit */\n"
                  "const char ${NAME}[] = {${hex}0x00};\n")
