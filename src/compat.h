/*
 * Project-wide helper macros: printf-format checking and array length. No functions, no state.
 */
#ifndef JR_COMPAT_H
#define JR_COMPAT_H

#if defined(__GNUC__) || defined(__clang__)
#define JR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define JR_NORETURN          __attribute__((noreturn))
#else
#define JR_PRINTF(fmt, args)
#define JR_NORETURN
#endif

#define JR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
