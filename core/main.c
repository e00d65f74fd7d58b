#include <stdio.h>
int main(void) { puts("bppipe: under construction"); return 0; }
