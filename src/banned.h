/*
 * Functions that must not be used in jobreport, turned into compile errors (git's banned.h).
 * They either overflow buffers (strcpy, sprintf), keep hidden state (strtok, gmtime, localtime)
 * or cannot report errors (atoi, atol). Use snprintf, strtok_r, gmtime_r and strtol instead.
 * Included last by every .c file of the project, after all system and library headers.
 */
#ifndef JR_BANNED_H
#define JR_BANNED_H

#define JR_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) JR_BANNED(strcpy)
#undef strcat
#define strcat(x, y) JR_BANNED(strcat)
#undef sprintf
#define sprintf(...) JR_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) JR_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) JR_BANNED(strtok)
#undef gmtime
#define gmtime(t) JR_BANNED(gmtime)
#undef localtime
#define localtime(t) JR_BANNED(localtime)
#undef atoi
#define atoi(x) JR_BANNED(atoi)
#undef atol
#define atol(x) JR_BANNED(atol)

#endif
